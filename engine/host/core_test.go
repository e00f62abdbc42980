package host

import (
	"context"
	"io"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/proto/enginev1"
)

// fakeUpload is the server side of an Upload stream fed from a list.
type fakeUpload struct {
	grpc.ServerStream
	msgs []*enginev1.UploadRequest
}

func (f *fakeUpload) Recv() (*enginev1.UploadRequest, error) {
	if len(f.msgs) == 0 {
		return nil, io.EOF
	}
	m := f.msgs[0]
	f.msgs = f.msgs[1:]
	return m, nil
}

func (f *fakeUpload) SendAndClose(*enginev1.UploadResponse) error { return nil }

// TestUploadAllocatesWhatArrives: a header that announces 3 GiB and then
// sends a few bytes costs memory for the bytes, not for the announcement.
func TestUploadAllocatesWhatArrives(t *testing.T) {
	cfg := Config{MaxArtifactBytes: 4 << 30}
	c := &core{cfg: &cfg, store: NewStore(8 << 30)}
	d := artifact.New([]byte("the real bytes")).Digest
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := c.Upload(&fakeUpload{msgs: []*enginev1.UploadRequest{
		{Part: &enginev1.UploadRequest_Header{Header: &enginev1.UploadHeader{Digest: d[:], Size: 3 << 30, Kind: "blob"}}},
		{Part: &enginev1.UploadRequest_Chunk{Chunk: []byte("the real bytes")}},
	}})
	runtime.ReadMemStats(&after)
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "header announced") {
		t.Fatalf("short upload: got %v, want InvalidArgument about the announced size", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
		t.Fatalf("a 14-byte upload announcing 3 GiB allocated %d bytes", grew)
	}
	// Announcing more than the whole budget is refused before any byte.
	small := &core{cfg: &cfg, store: NewStore(1 << 20)}
	err = small.Upload(&fakeUpload{msgs: []*enginev1.UploadRequest{
		{Part: &enginev1.UploadRequest_Header{Header: &enginev1.UploadHeader{Digest: d[:], Size: 2 << 20, Kind: "blob"}}},
	}})
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("upload over the budget: got %v, want ResourceExhausted", err)
	}
}

// TestHealthListsResidentOnlyWhenAsked: the digest list walks the whole
// budget, so a liveness probe does not get it; a pool's check that asks
// gets what is resident, most recently used first.
func TestHealthListsResidentOnlyWhenAsked(t *testing.T) {
	cfg := Config{}
	c := &core{cfg: &cfg, store: NewStore(1 << 20), inFlight: new(atomic.Int32), draining: new(atomic.Bool)}
	a, b := artifact.New([]byte("first")), artifact.New([]byte("second"))
	for _, x := range []artifact.Artifact{a, b} {
		if err := c.store.Put(x.Digest, "test", x.Data); err != nil {
			t.Fatal(err)
		}
	}
	plain, err := c.Health(context.Background(), &enginev1.HealthRequest{})
	if err != nil || len(plain.GetResidentDigests()) != 0 || plain.GetResidentArtifacts() != 2 {
		t.Fatalf("plain health: %v %v, want 2 artifacts and no digest list", plain, err)
	}
	full, err := c.Health(context.Background(), &enginev1.HealthRequest{ResidentDigests: true})
	if err != nil {
		t.Fatal(err)
	}
	got := full.GetResidentDigests()
	if len(got) != 2 || string(got[0]) != string(b.Digest[:]) || string(got[1]) != string(a.Digest[:]) {
		t.Fatalf("resident digests %x, want %s then %s", got, b.Digest.Short(), a.Digest.Short())
	}
}

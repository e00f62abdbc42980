package enginetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/status"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/engine"
	"github.com/proofd/proofd/proto/enginev1"
)

// Run checks the behaviour every engine shares: handshake, health,
// content-addressed upload and download, and that bad requests get an error
// status while the engine goes on serving. start returns a fresh engine;
// the suite closes nothing it did not open.
func Run(t *testing.T, start func(t *testing.T) *engine.Conn) {
	t.Run("Handshake", func(t *testing.T) {
		tg := start(t)
		info := tg.Info()
		if info.GetVersion() != 1 || info.GetKind() == "" || len(info.GetServices()) == 0 {
			t.Fatalf("handshake = %+v, want version 1, a kind and services", info)
		}
		cc := raw(t, tg)
		_, err := enginev1.NewEngineClient(cc).Handshake(ctxT(t), &enginev1.HandshakeRequest{MinVersion: 7, MaxVersion: 9})
		if status.Code(err) != codes.FailedPrecondition {
			t.Fatalf("handshake for versions 7..9: got %v, want FailedPrecondition", err)
		}
		healthy(t, tg)
	})
	t.Run("UploadDownload", func(t *testing.T) {
		tg := start(t)
		data := make([]byte, 3<<20+17) // several chunks and a ragged end
		rand.Read(data)
		a := artifact.New(data)
		if err := tg.Upload(ctxT(t), "blob", a); err != nil {
			t.Fatal(err)
		}
		got, err := tg.Download(ctxT(t), a.Digest)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Data, data) {
			t.Fatal("downloaded bytes differ from uploaded")
		}
		has, err := enginev1.NewEngineClient(raw(t, tg)).Has(ctxT(t), &enginev1.HasRequest{Digests: [][]byte{a.Digest[:], make([]byte, 32)}})
		if err != nil {
			t.Fatal(err)
		}
		if p := has.GetPresent(); len(p) != 2 || !p[0] || p[1] {
			t.Fatalf("Has = %v, want [true false]", p)
		}
	})
	t.Run("UploadWrongDigest", func(t *testing.T) {
		tg := start(t)
		a := artifact.New([]byte("the real bytes"))
		a.Data = []byte("other bytes")
		err := tg.Upload(ctxT(t), "blob", a)
		var ie *engine.InputError
		if !errors.As(err, &ie) {
			t.Fatalf("upload with a wrong digest: got %v, want an InputError", err)
		}
		if _, err := tg.Download(ctxT(t), a.Digest); err == nil {
			t.Fatal("engine serves bytes whose digest it never checked")
		}
		healthy(t, tg)
	})
	t.Run("DownloadMissing", func(t *testing.T) {
		tg := start(t)
		_, err := tg.Download(ctxT(t), artifact.Digest{1})
		if err == nil {
			t.Fatal("download of an unknown digest succeeded")
		}
		healthy(t, tg)
	})
	t.Run("UnknownMethod", func(t *testing.T) {
		tg := start(t)
		err := raw(t, tg).Invoke(ctxT(t), "/proofd.engine.v1.Engine/NoSuchMethod", &enginev1.HealthRequest{}, &enginev1.HealthResponse{})
		if status.Code(err) != codes.Unimplemented {
			t.Fatalf("unknown method: got %v, want Unimplemented", err)
		}
		healthy(t, tg)
	})
	t.Run("MalformedMessage", func(t *testing.T) {
		tg := start(t)
		// Bytes that are not a valid protobuf encoding of the request.
		garbage := rawBytes{0xff, 0xff, 0xff, 0xff, 0x0f, 0x01}
		var out rawBytes
		err := raw(t, tg).Invoke(ctxT(t), enginev1.Engine_Has_FullMethodName, &garbage, &out, grpc.ForceCodec(rawCodec{}))
		if status.Code(err) == codes.OK {
			t.Fatal("malformed request got OK")
		}
		healthy(t, tg)
	})
	t.Run("OversizedMessage", func(t *testing.T) {
		tg := start(t)
		limit := tg.Info().GetMaxMessageBytes()
		big := &enginev1.HasRequest{Digests: [][]byte{make([]byte, limit+1)}}
		_, err := enginev1.NewEngineClient(raw(t, tg)).Has(ctxT(t), big, grpc.MaxCallSendMsgSize(int(limit)*2))
		if status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("oversized request: got %v, want ResourceExhausted", err)
		}
		healthy(t, tg)
	})
	t.Run("BadDigest", func(t *testing.T) {
		tg := start(t)
		_, err := enginev1.NewEngineClient(raw(t, tg)).Has(ctxT(t), &enginev1.HasRequest{Digests: [][]byte{{1, 2, 3}}})
		if status.Code(err) != codes.InvalidArgument {
			t.Fatalf("3-byte digest: got %v, want InvalidArgument", err)
		}
		healthy(t, tg)
	})
}

func healthy(t *testing.T, tg *engine.Conn) {
	t.Helper()
	h, err := tg.Health(ctxT(t))
	if err != nil {
		t.Fatalf("engine stopped serving: %v", err)
	}
	if h.GetStatus() != enginev1.HealthResponse_SERVING {
		t.Fatalf("health = %v, want SERVING", h.GetStatus())
	}
}

func raw(_ *testing.T, tg *engine.Conn) *grpc.ClientConn { return tg.Raw() }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// rawBytes and rawCodec send bytes that bypass protobuf encoding.
type rawBytes []byte

type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*rawBytes)), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*(v.(*rawBytes)) = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

var _ encoding.Codec = rawCodec{}

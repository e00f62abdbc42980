package engine

import (
	"context"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/proofd/proofd/proto/enginev1"
)

// stubEngine answers the handshake, refuses every Has as bad input,
// takes uploads, and serves a two-message download.
type stubEngine struct {
	enginev1.UnimplementedEngineServer
}

func (stubEngine) Handshake(context.Context, *enginev1.HandshakeRequest) (*enginev1.HandshakeResponse, error) {
	return &enginev1.HandshakeResponse{}, nil
}

func (stubEngine) Has(context.Context, *enginev1.HasRequest) (*enginev1.HasResponse, error) {
	return nil, status.Error(codes.InvalidArgument, "bad digest")
}

func (stubEngine) Upload(s grpc.ClientStreamingServer[enginev1.UploadRequest, enginev1.UploadResponse]) error {
	for {
		if _, err := s.Recv(); err == io.EOF {
			return s.SendAndClose(&enginev1.UploadResponse{})
		} else if err != nil {
			return err
		}
	}
}

func (stubEngine) Download(_ *enginev1.DownloadRequest, s grpc.ServerStreamingServer[enginev1.DownloadResponse]) error {
	for range 2 {
		if err := s.Send(&enginev1.DownloadResponse{Chunk: []byte("x")}); err != nil {
			return err
		}
	}
	return nil
}

type observed struct {
	method string
	code   codes.Code
}

// The observer hears of every RPC once it ends, unary and streaming, by
// its short method name and with its status.
func TestRPCObserver(t *testing.T) {
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	enginev1.RegisterEngineServer(srv, stubEngine{})
	go srv.Serve(lis)
	defer srv.Stop()

	var got []observed
	obs := func(method string, d time.Duration, err error) {
		if d <= 0 {
			t.Errorf("%s took %v", method, d)
		}
		got = append(got, observed{method, status.Code(err)})
	}
	ctx := context.Background()
	c, err := dialWith(ctx, "bufconn", func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }, insecure.NewCredentials(), true, obs)
	if err != nil {
		t.Fatal(err)
	}
	defer c.cc.Close()

	if _, err := c.core.Has(ctx, &enginev1.HasRequest{}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("has: %v", err)
	}
	up, err := c.core.Upload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := up.Send(&enginev1.UploadRequest{Part: &enginev1.UploadRequest_Chunk{Chunk: []byte("x")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := up.CloseAndRecv(); err != nil {
		t.Fatal(err)
	}
	down, err := c.core.Download(ctx, &enginev1.DownloadRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := down.Recv(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	// Another service on the same connection (snarkclient's way): not
	// served by the stub.
	if _, err := enginev1.NewSnarkClient(c.Raw()).Prove(ctx, &enginev1.ProveRequest{}); status.Code(err) != codes.Unimplemented {
		t.Fatalf("prove: %v", err)
	}
	want := []observed{{"Handshake", codes.OK}, {"Has", codes.InvalidArgument}, {"Upload", codes.OK}, {"Download", codes.OK}, {"Prove", codes.Unimplemented}}
	if !slices.Equal(got, want) {
		t.Fatalf("observed %v, want %v", got, want)
	}
}

package engine_test

import (
	"context"
	"net"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/test/bufconn"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/engine"
	"github.com/proofd/proofd/engine/protocol"
	"github.com/proofd/proofd/proto/enginev1"
)

// lyingEngine announces one size for a download and sends another.
type lyingEngine struct {
	enginev1.UnimplementedEngineServer
	announce uint64
	chunks   [][]byte
}

func (e *lyingEngine) Handshake(context.Context, *enginev1.HandshakeRequest) (*enginev1.HandshakeResponse, error) {
	return &enginev1.HandshakeResponse{Version: protocol.Version, Kind: "liar"}, nil
}

func (e *lyingEngine) Download(_ *enginev1.DownloadRequest, s grpc.ServerStreamingServer[enginev1.DownloadResponse]) error {
	for i, c := range e.chunks {
		msg := &enginev1.DownloadResponse{Chunk: c}
		if i == 0 {
			msg.Size = e.announce
		}
		if err := s.Send(msg); err != nil {
			return err
		}
	}
	return nil
}

// bufLocal serves a gRPC server on an in-memory listener, as engine.Local.
type bufLocal struct {
	ln  *bufconn.Listener
	srv *grpc.Server
}

func (b *bufLocal) Dial(ctx context.Context, _ string) (net.Conn, error) {
	return b.ln.DialContext(ctx)
}
func (b *bufLocal) Close() error { b.srv.Stop(); return nil }

func dialLiar(t *testing.T, e *lyingEngine) *engine.Conn {
	t.Helper()
	l := &bufLocal{ln: bufconn.Listen(1 << 20), srv: grpc.NewServer()}
	enginev1.RegisterEngineServer(l.srv, e)
	go l.srv.Serve(l.ln)
	c, err := engine.InProcess(context.Background(), l)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestDownloadBoundsWhatThePeerSends: the size an engine announces bounds
// what the client accepts and is never allocated up front.
func TestDownloadBoundsWhatThePeerSends(t *testing.T) {
	data := []byte("twenty bytes of key!")
	d := artifact.New(data).Digest
	for _, tc := range []struct {
		name     string
		announce uint64
		chunks   [][]byte
		want     string
	}{
		{"announces more than any artifact", 1 << 62, [][]byte{data}, "over the"},
		{"sends more than it announced", 10, [][]byte{data[:10], data[10:]}, "more than the 10 bytes"},
		{"bytes that do not hash to the digest", 20, [][]byte{[]byte("twenty bytes of lie!")}, "hash to"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialLiar(t, &lyingEngine{announce: tc.announce, chunks: tc.chunks})
			_, err := c.Download(context.Background(), d)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), d.Short()) {
				t.Fatalf("got %v, want an error naming %s that says %q", err, d.Short(), tc.want)
			}
		})
	}
	c := dialLiar(t, &lyingEngine{announce: 20, chunks: [][]byte{data[:7], data[7:]}})
	if a, err := c.Download(context.Background(), d); err != nil || string(a.Data) != string(data) {
		t.Fatalf("an honest download: %q, %v", a.Data, err)
	}
}

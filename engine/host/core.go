package host

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/engine/protocol"
	"github.com/proofd/proofd/proto/enginev1"
)

// downloadChunk is the size of one Download message.
const downloadChunk = 1 << 20

// core serves the Engine service every engine shares.
type core struct {
	enginev1.UnimplementedEngineServer

	cfg      *Config
	store    *Store
	inFlight *atomic.Int32
	draining *atomic.Bool
	shutdown func()
}

func (c *core) Handshake(_ context.Context, req *enginev1.HandshakeRequest) (*enginev1.HandshakeResponse, error) {
	if req.GetMinVersion() > protocol.Version || req.GetMaxVersion() < protocol.Version {
		return nil, status.Errorf(codes.FailedPrecondition,
			"handshake: client speaks protocol versions %d..%d, engine speaks %d",
			req.GetMinVersion(), req.GetMaxVersion(), protocol.Version)
	}
	return &enginev1.HandshakeResponse{
		Version:          protocol.Version,
		Kind:             c.cfg.Kind,
		Services:         c.cfg.Services,
		EngineVersion:    c.cfg.EngineVersion,
		Pid:              int64(os.Getpid()),
		MaxMessageBytes:  uint64(c.cfg.MaxMessageBytes),
		MaxArtifactBytes: c.cfg.MaxArtifactBytes,
	}, nil
}

func (c *core) Health(_ context.Context, req *enginev1.HealthRequest) (*enginev1.HealthResponse, error) {
	st := enginev1.HealthResponse_SERVING
	if c.draining.Load() {
		st = enginev1.HealthResponse_DRAINING
	}
	n, b := c.store.Stats()
	var digests [][]byte
	if req.GetResidentDigests() { // walks the whole budget: only when asked
		for _, d := range c.store.Recent(maxReportedDigests) {
			digests = append(digests, d[:])
		}
	}
	return &enginev1.HealthResponse{
		Status:            st,
		InFlight:          uint32(max(c.inFlight.Load()-1, 0)), // minus this call
		ResidentArtifacts: uint32(n),
		ResidentBytes:     b,
		ResidentDigests:   digests,
	}, nil
}

// maxReportedDigests bounds the digests Health lists.
const maxReportedDigests = 256

func (c *core) Shutdown(context.Context, *enginev1.ShutdownRequest) (*enginev1.ShutdownResponse, error) {
	c.shutdown()
	return &enginev1.ShutdownResponse{}, nil
}

func (c *core) Has(_ context.Context, req *enginev1.HasRequest) (*enginev1.HasResponse, error) {
	out := make([]bool, len(req.GetDigests()))
	for i, raw := range req.GetDigests() {
		d, err := artifact.Parse(fmt.Sprintf("digests[%d]", i), raw)
		if err != nil {
			return nil, BadInput("digests", err.Error())
		}
		out[i] = c.store.Has(d)
	}
	return &enginev1.HasResponse{Present: out}, nil
}

func (c *core) Upload(stream grpc.ClientStreamingServer[enginev1.UploadRequest, enginev1.UploadResponse]) error {
	first, err := stream.Recv()
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "upload: reading header: %v", err)
	}
	hdr := first.GetHeader()
	if hdr == nil {
		return BadInput("upload", "first message must be a header")
	}
	want, err := artifact.Parse("upload header", hdr.GetDigest())
	if err != nil {
		return BadInput("upload", err.Error())
	}
	kind := hdr.GetKind()
	if hdr.GetSize() > c.cfg.MaxArtifactBytes {
		return status.Errorf(codes.ResourceExhausted, "upload %s %s: %d bytes exceeds the engine's limit of %d",
			kind, want.Short(), hdr.GetSize(), c.cfg.MaxArtifactBytes)
	}
	if max := c.store.Budget().Max(); hdr.GetSize() > max {
		return status.Errorf(codes.ResourceExhausted, "upload %s %s: %d bytes exceed the engine's resident budget of %d",
			kind, want.Short(), hdr.GetSize(), max)
	}
	// The header's size is a peer's claim: memory grows with the bytes
	// that arrive, never past it.
	size := int(hdr.GetSize())
	var buf []byte
	h := sha256.New()
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		chunk := msg.GetChunk()
		if len(chunk) > size-len(buf) {
			return BadInput(kind, fmt.Sprintf("upload %s: more bytes than the %d the header announced", want.Short(), size))
		}
		buf = growTo(buf, len(chunk), size)
		buf = append(buf, chunk...)
		h.Write(chunk)
	}
	if len(buf) != size {
		return BadInput(kind, fmt.Sprintf("upload %s: got %d bytes, header announced %d", want.Short(), len(buf), size))
	}
	var got Digest
	h.Sum(got[:0])
	if got != want {
		return BadInput(kind, fmt.Sprintf("upload: bytes hash to %s, header says %s", got.Short(), want.Short()))
	}
	if err := c.store.Put(got, kind, buf); err != nil {
		return status.Errorf(codes.ResourceExhausted, "upload %s %s: %v", kind, want.Short(), err)
	}
	return stream.SendAndClose(&enginev1.UploadResponse{Digest: got[:]})
}

func (c *core) Download(req *enginev1.DownloadRequest, stream grpc.ServerStreamingServer[enginev1.DownloadResponse]) error {
	d, err := artifact.Parse("digest", req.GetDigest())
	if err != nil {
		return BadInput("digest", err.Error())
	}
	lease := c.store.Lease()
	defer lease.Release()
	data, ok := lease.Bytes(d)
	if !ok {
		return Missing(d)
	}
	first := true
	for off := 0; first || off < len(data); off += downloadChunk {
		end := min(off+downloadChunk, len(data))
		msg := &enginev1.DownloadResponse{Chunk: data[off:end]}
		if first {
			msg.Size = uint64(len(data))
			first = false
		}
		if err := stream.Send(msg); err != nil {
			return err
		}
	}
	return nil
}

// growTo makes room for n more bytes in buf, doubling its capacity but
// never past limit, so that a completed upload holds exactly its bytes.
func growTo(buf []byte, n, limit int) []byte {
	if len(buf)+n <= cap(buf) {
		return buf
	}
	next := make([]byte, len(buf), min(max(2*cap(buf), len(buf)+n, 64<<10), limit))
	copy(next, buf)
	return next
}

package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/debugrec"
	"github.com/proofd/proofd/proto/enginev1"
)

// Timing is how long one stage of an engine call took.
type Timing struct {
	Stage    string        `json:"stage"`
	Duration time.Duration `json:"ns"`
}

// VerifyResult is an engine's verdict on a proof: an invalid proof is a
// result (Valid false, Reason why), not an error. Every engine kind's
// client answers a verification with it.
type VerifyResult struct {
	Valid   bool     `json:"valid"`
	Reason  string   `json:"reason,omitempty"`
	Timings []Timing `json:"timings"`
}

// CheckResult says whether a witness satisfies a circuit.
type CheckResult struct {
	Satisfied bool     `json:"satisfied"`
	Reason    string   `json:"reason,omitempty"`
	Timings   []Timing `json:"timings"`
}

// Timings converts the protocol's stage timings.
func Timings(ts []*enginev1.Timing) []Timing {
	out := make([]Timing, len(ts))
	for i, t := range ts {
		out[i] = Timing{Stage: t.GetStage(), Duration: time.Duration(t.GetNanos())}
	}
	return out
}

// WithArtifacts runs call; if the engine reports artifacts missing, it
// uploads those it has bytes for and runs call once more.
func (c *Conn) WithArtifacts(ctx context.Context, op string, arts []artifact.Artifact, call func() error) error {
	err := call()
	missing := missingDigests(err)
	if missing == nil {
		return FromStatus(ctx, op, err)
	}
	for _, d := range missing {
		a, ok := findArtifact(arts, d)
		if !ok || a.Data == nil {
			return fmt.Errorf("%s: engine lacks artifact %s and the caller has no bytes for it", op, d.Short())
		}
		if err := c.Upload(ctx, op, a); err != nil {
			return err
		}
	}
	return FromStatus(ctx, op, call())
}

func missingDigests(err error) []artifact.Digest {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.FailedPrecondition {
		return nil
	}
	var out []artifact.Digest
	for _, d := range st.Details() {
		if m, ok := d.(*enginev1.MissingArtifacts); ok {
			for _, raw := range m.GetDigests() {
				if dg, err := artifact.Parse("missing artifact", raw); err == nil {
					out = append(out, dg)
				}
			}
		}
	}
	return out
}

func findArtifact(arts []artifact.Artifact, d artifact.Digest) (artifact.Artifact, bool) {
	for _, a := range arts {
		if a.Digest == d {
			return a, true
		}
	}
	return artifact.Artifact{}, false
}

// uploadChunk is the size of one Upload message.
const uploadChunk = 1 << 20

// Upload sends an artifact's bytes to the engine, which checks the digest.
func (c *Conn) Upload(ctx context.Context, kind string, a artifact.Artifact) error {
	stream, err := c.core.Upload(ctx)
	if err != nil {
		return FromStatus(ctx, "upload "+kind, err)
	}
	err = stream.Send(&enginev1.UploadRequest{Part: &enginev1.UploadRequest_Header{Header: &enginev1.UploadHeader{
		Digest: a.Digest[:], Size: uint64(len(a.Data)), Kind: kind,
	}}})
	for off := 0; err == nil && off < len(a.Data); off += uploadChunk {
		end := min(off+uploadChunk, len(a.Data))
		err = stream.Send(&enginev1.UploadRequest{Part: &enginev1.UploadRequest_Chunk{Chunk: a.Data[off:end]}})
	}
	if errors.Is(err, io.EOF) {
		err = nil // the server ended the stream early; CloseAndRecv has its status
	}
	if err != nil {
		return FromStatus(ctx, "upload "+kind, err)
	}
	_, err = stream.CloseAndRecv()
	return FromStatus(ctx, "upload "+kind, err)
}

// MaxDownloadBytes bounds one artifact Download accepts (a proving key of a
// very large circuit is a few GiB).
const MaxDownloadBytes = 16 << 30

// Download fetches a resident artifact and checks its digest.
func (c *Conn) Download(ctx context.Context, d artifact.Digest) (artifact.Artifact, error) {
	stream, err := c.core.Download(ctx, &enginev1.DownloadRequest{Digest: d[:]})
	if err != nil {
		return artifact.Artifact{}, FromStatus(ctx, "download", err)
	}
	// The size the engine announces bounds what is accepted, never what
	// is allocated: the buffer grows as bytes arrive.
	var buf []byte
	announced := uint64(0)
	for first := true; ; first = false {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return artifact.Artifact{}, FromStatus(ctx, "download "+d.Short(), err)
		}
		if first {
			announced = msg.GetSize()
			if announced > MaxDownloadBytes {
				return artifact.Artifact{}, fmt.Errorf("download %s: engine announced %d bytes, over the %d-byte limit", d.Short(), announced, uint64(MaxDownloadBytes))
			}
		}
		if uint64(len(buf))+uint64(len(msg.GetChunk())) > announced {
			return artifact.Artifact{}, fmt.Errorf("download %s: engine sent more than the %d bytes it announced", d.Short(), announced)
		}
		buf = append(buf, msg.GetChunk()...)
	}
	a := artifact.New(buf)
	if a.Digest != d {
		return artifact.Artifact{}, fmt.Errorf("download %s: bytes hash to %s", d.Short(), a.Digest.Short())
	}
	return a, nil
}

// DigestEqual reports whether raw is the digest d.
func DigestEqual(d artifact.Digest, raw []byte) bool {
	return len(raw) == len(d) && string(raw) == string(d[:])
}

// NameOr labels a call: name, or the artifact's short digest.
func NameOr(name string, a artifact.Artifact) string {
	if name != "" {
		return name
	}
	return a.Digest.Short()
}

// Recording is one call being recorded, or nothing when recording is off.
type Recording struct{ call *debugrec.Call }

// Record starts recording a call to op when $PROOFD_DEBUG_DIR is set:
// inputs are written now, args make the replaying command.
func (c *Conn) Record(op, name string, inputs []debugrec.File, args []string) (Recording, error) {
	if c.rec == nil {
		return Recording{}, nil
	}
	call, err := c.rec.Begin(op, name, present(inputs), args)
	return Recording{call: call}, err
}

// RecordScript is Record for a call that another program replays: body
// is command.sh's commands (debugrec.Recorder.BeginScript), about names the
// program.
func (c *Conn) RecordScript(op, name string, inputs []debugrec.File, about, body string) (Recording, error) {
	if c.rec == nil {
		return Recording{}, nil
	}
	call, err := c.rec.BeginScript(op, name, present(inputs), about, body)
	return Recording{call: call}, err
}

// present drops the inputs that have no bytes (optional ones not given).
func present(inputs []debugrec.File) []debugrec.File {
	out := inputs[:0:0]
	for _, f := range inputs {
		if f.Data != nil {
			out = append(out, f)
		}
	}
	return out
}

// Finish records the outcome and passes err through, adding any recording
// failure to it.
func (r Recording) Finish(outputs []debugrec.File, result any, err error) error {
	if r.call == nil {
		return err
	}
	return errors.Join(err, r.call.Finish(outputs, result, err))
}

// Recording reports whether calls on c are recorded ($PROOFD_DEBUG_DIR),
// for clients whose recorded inputs cost work to prepare.
func (c *Conn) Recording() bool { return c.rec != nil }

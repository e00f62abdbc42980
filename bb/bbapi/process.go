package bbapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"

	"github.com/proofd/proofd/internal/childproc"
)

// DefaultCloseTimeout bounds Close when Config.CloseTimeout is zero: the
// wait for a call in flight, bb's reply to Shutdown and its exit.
const DefaultCloseTimeout = 5 * time.Second

var (
	// ErrDied means the bb process is gone: it exited or was killed during
	// or before the call, or it broke the protocol and was killed. The call
	// may be retried on a new Process; this one only fails from now on.
	ErrDied = errors.New("bb process died")
	// ErrClosed is a call on a Process after Close.
	ErrClosed = errors.New("bb process closed")
)

// BBError is bb's ErrorResponse to a command: bb refused the input (junk
// bytecode, a witness that does not fit, ...) and keeps serving.
type BBError struct {
	Command string // the command bb refused, e.g. "CircuitProve"
	Message string // bb's message
}

func (e *BBError) Error() string {
	return fmt.Sprintf("bb %s: %s", e.Command, e.Message)
}

// Config says how to start bb.
type Config struct {
	// Path is the bb binary, looked up in $PATH when it has no slash.
	Path string
	// CRSDir is a writable directory holding bn254_g1.dat in bb's layout
	// (bb writes crs.lock there). bb downloads points it lacks, which
	// offline fails after several seconds.
	CRSDir string
	// Threads is bb's HARDWARE_CONCURRENCY, its number of threads; zero
	// leaves bb's default, one per core.
	Threads int
	// MaxFrame bounds a reply's size (default DefaultMaxFrame).
	MaxFrame int
	// Stderr receives bb's log; the last few KiB are also kept to explain
	// a death. Nil keeps only those.
	Stderr io.Writer
	// CloseTimeout bounds Close (default DefaultCloseTimeout).
	CloseTimeout time.Duration
}

// Process is a running `bb msgpack run` serving one call at a time over
// its stdin and stdout. Its methods are safe for concurrent use; calls
// queue.
type Process struct {
	cfg    Config
	proc   *childproc.Process
	stdin  *os.File
	stdout *os.File
	tail   *childproc.Tail

	// sem is the call lock: a channel so that waiting for it honors ctx.
	sem chan struct{}
	// broken, once set (under sem), is returned by every later call.
	broken error

	closeOnce sync.Once
	closeErr  error
}

// Args is bb's command line for a Process serving with CRS directory crs.
func Args(crs string) []string { return []string{"-c", crs, "msgpack", "run"} }

// Start starts bb as `bb -c CRSDir msgpack run` with HARDWARE_CONCURRENCY
// (and CRS_PATH, for bb code that reads only the environment) in its
// environment, in its own process group and killed if this process dies
// (internal/childproc). Close must be called.
func Start(cfg Config) (*Process, error) {
	if cfg.MaxFrame == 0 {
		cfg.MaxFrame = DefaultMaxFrame
	}
	if cfg.CloseTimeout == 0 {
		cfg.CloseTimeout = DefaultCloseTimeout
	}
	path, err := exec.LookPath(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("bbapi: start bb: %w", err)
	}
	if cfg.CRSDir == "" {
		return nil, errors.New("bbapi: start bb: no CRS directory")
	}
	if st, err := os.Stat(cfg.CRSDir); err != nil {
		return nil, fmt.Errorf("bbapi: start bb: CRS directory: %w", err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("bbapi: start bb: CRS directory %s is not a directory", cfg.CRSDir)
	}
	env := append(os.Environ(), "CRS_PATH="+cfg.CRSDir)
	if cfg.Threads > 0 {
		env = append(env, "HARDWARE_CONCURRENCY="+strconv.Itoa(cfg.Threads))
	}

	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("bbapi: start bb: %w", err)
	}
	stdoutR, stdoutW, err := os.Pipe()
	if err != nil {
		stdinR.Close()
		stdinW.Close()
		return nil, fmt.Errorf("bbapi: start bb: %w", err)
	}
	p := &Process{
		cfg:    cfg,
		stdin:  stdinW,
		stdout: stdoutR,
		tail:   &childproc.Tail{Max: 4 << 10},
		sem:    make(chan struct{}, 1),
	}
	cmd := exec.Command(path, Args(cfg.CRSDir)...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout = stdinR, stdoutW
	cmd.Stderr = p.tail
	if cfg.Stderr != nil {
		cmd.Stderr = multiWriter{cfg.Stderr, p.tail}
	}
	p.proc, err = childproc.Start(cmd)
	// The child has its own copies: closing ours makes its death an EOF.
	stdinR.Close()
	stdoutW.Close()
	if err != nil {
		stdinW.Close()
		stdoutR.Close()
		return nil, fmt.Errorf("bbapi: start bb: %w", err)
	}
	return p, nil
}

// Pid is bb's process id (and process group id).
func (p *Process) Pid() int { return p.proc.Pid() }

// Exited is closed once bb has exited and been reaped.
func (p *Process) Exited() <-chan struct{} { return p.proc.Exited() }

// Prove runs CircuitProve.
func (p *Process) Prove(ctx context.Context, req *CircuitProve) (*CircuitProveResponse, error) {
	return call[*CircuitProveResponse](ctx, p, req)
}

// ComputeVk runs CircuitComputeVk.
func (p *Process) ComputeVk(ctx context.Context, req *CircuitComputeVk) (*CircuitComputeVkResponse, error) {
	return call[*CircuitComputeVkResponse](ctx, p, req)
}

// Verify runs CircuitVerify. A proof that does not verify is Verified
// false, not an error.
func (p *Process) Verify(ctx context.Context, req *CircuitVerify) (*CircuitVerifyResponse, error) {
	return call[*CircuitVerifyResponse](ctx, p, req)
}

// Stats runs CircuitStats.
func (p *Process) Stats(ctx context.Context, req *CircuitStats) (*CircuitInfoResponse, error) {
	return call[*CircuitInfoResponse](ctx, p, req)
}

// SolidityVerifier runs CircuitWriteSolidityVerifier.
func (p *Process) SolidityVerifier(ctx context.Context, req *CircuitWriteSolidityVerifier) (*CircuitWriteSolidityVerifierResponse, error) {
	return call[*CircuitWriteSolidityVerifierResponse](ctx, p, req)
}

// call sends cmd and returns bb's reply as an R. An ErrorResponse is a
// *BBError; any other reply than an R breaks the protocol (ErrDied).
func call[R Response](ctx context.Context, p *Process, cmd Command) (R, error) {
	var zero R
	resp, err := p.roundTrip(ctx, cmd, zero.ResponseName())
	if err != nil {
		return zero, err
	}
	return resp.(R), nil
}

// roundTrip sends cmd and reads the reply, which must be named want (or be
// an ErrorResponse). Waiting for an earlier call to finish honors ctx and
// costs nothing.
func (p *Process) roundTrip(ctx context.Context, cmd Command, want string) (Response, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("bbapi: %s: waiting for the call before: %w", cmd.CommandName(), ctx.Err())
	}
	defer func() { <-p.sem }()
	if err := ctx.Err(); err != nil { // select picks at random when both are ready
		return nil, fmt.Errorf("bbapi: %s: not sent: %w", cmd.CommandName(), err)
	}
	return p.exchange(ctx, cmd, want)
}

// exchange is roundTrip with sem held. ctx done while the call is out
// kills bb, which cannot be interrupted, and the error wraps both
// ctx.Err() and ErrDied.
func (p *Process) exchange(ctx context.Context, cmd Command, want string) (Response, error) {
	name := cmd.CommandName()
	if p.broken != nil {
		return nil, fmt.Errorf("bbapi: %s: %w", name, p.broken)
	}
	stop := context.AfterFunc(ctx, p.proc.Kill)
	err := WriteCommand(p.stdin, cmd)
	var resp Response
	if err == nil {
		resp, err = ReadResponse(p.stdout, p.cfg.MaxFrame)
	}
	killedByCtx := !stop()
	switch {
	case killedByCtx:
		return nil, p.die(fmt.Errorf("bbapi: %s: killed bb, which cannot be interrupted: %w: %w", name, ctx.Err(), ErrDied))
	case errors.Is(err, ErrMalformed) || errors.Is(err, ErrFrameTooLarge):
		return nil, p.die(fmt.Errorf("bbapi: %s: killed bb after a reply that breaks the protocol: %w: %w", name, err, ErrDied))
	case err != nil:
		p.proc.Kill() // normally exited already; a broken pipe may mean it is exiting
		<-p.proc.Exited()
		return nil, p.die(fmt.Errorf("bbapi: %s: %w (%v; %v)%s", name, ErrDied, p.proc.Err(), err, p.tail.Suffix("bb")))
	}
	if e, ok := resp.(*ErrorResponse); ok {
		return nil, &BBError{Command: name, Message: e.Message}
	}
	if got := resp.ResponseName(); got != want {
		return nil, p.die(fmt.Errorf("bbapi: %s: killed bb after it answered %s, want %s: %w", name, got, want, ErrDied))
	}
	return resp, nil
}

// die kills bb (if it still runs), waits for it, and makes err the answer
// to every later call. Called with sem held.
func (p *Process) die(err error) error {
	p.proc.Kill()
	<-p.proc.Exited()
	p.broken = err
	return err
}

// Close asks bb to shut down and waits for it to exit, killing it when it
// does not within CloseTimeout (a call in flight counts against that time
// and is cut short with ErrDied). It returns an error only if bb had to be
// killed or exited uncleanly here; a death already reported by a call is
// not reported again. No process is left either way.
func (p *Process) Close() error {
	p.closeOnce.Do(func() { p.closeErr = p.close() })
	return p.closeErr
}

func (p *Process) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.CloseTimeout)
	defer cancel()
	var err error
	reported := false // a call already returned bb's death
	select {
	case p.sem <- struct{}{}:
		reported = p.broken != nil
		if !reported {
			_, err = p.exchange(ctx, &Shutdown{}, (*ShutdownResponse)(nil).ResponseName())
		}
		p.broken = ErrClosed
		<-p.sem
	case <-ctx.Done():
		err = fmt.Errorf("bbapi: close: a call still running after %v: killed bb", p.cfg.CloseTimeout)
	}
	p.stdin.Close() // bb also exits at the end of its input
	select {
	case <-p.proc.Exited():
		if err == nil && !reported && p.proc.Err() != nil {
			err = fmt.Errorf("bbapi: close: bb exited: %v%s", p.proc.Err(), p.tail.Suffix("bb"))
		}
	case <-ctx.Done():
		p.proc.Kill()
		<-p.proc.Exited()
		if err == nil {
			err = fmt.Errorf("bbapi: close: bb still running %v after Shutdown: killed", p.cfg.CloseTimeout)
		}
	}
	p.proc.Kill() // anything bb left in its process group
	p.stdout.Close()
	return err
}

// multiWriter writes to each writer in turn, ignoring errors of the first
// (the caller's log must not stop bb).
type multiWriter [2]io.Writer

func (m multiWriter) Write(b []byte) (int, error) {
	m[0].Write(b)
	return m[1].Write(b)
}

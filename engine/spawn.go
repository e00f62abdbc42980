package engine

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"sync/atomic"
	"time"

	"github.com/proofd/proofd/engine/protocol"
	"github.com/proofd/proofd/internal/childproc"
)

// SpawnOptions says how to start an engine process.
type SpawnOptions struct {
	// Path is the engine binary, looked up in $PATH when it has no slash;
	// Args its arguments (for proofd itself: "engine", "serve",
	// "--exit-on-stdin-eof").
	Path string
	Args []string
	Env  []string
	// Stderr receives the engine's log. The last few KiB are also kept to
	// explain a failed start.
	Stderr io.Writer
	// StartTimeout bounds the whole start: the announce line and the
	// handshake (default 60 s). A process that exits fails the start at once.
	StartTimeout time.Duration
	// TLS is the client configuration (ClientTLS) for an engine that
	// announces a TCP address (engine serve --listen tcp://...); such an
	// engine cannot be reached without it.
	TLS *tls.Config
	// OnRPC, when set, is told of every RPC on the engine's connection,
	// the handshake included (engine/enginemetrics adapts it).
	OnRPC RPCObserver
}

// stdoutGrace is how long a start waits for the exit status of an engine
// that closed its stdout without announcing: it is normally exiting, and its
// status explains why. The start fails either way.
const stdoutGrace = 2 * time.Second

// process is a running engine child.
type process struct {
	*childproc.Process
	stdin  *os.File // closing it tells the engine to exit
	tail   *childproc.Tail
	killed atomic.Bool // we killed it on purpose
}

// Spawn starts an engine process and connects to it. Close stops it. The
// start fails as soon as the engine exits, and after StartTimeout at most.
func Spawn(ctx context.Context, opts SpawnOptions) (*Conn, error) {
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 60 * time.Second
	}
	p, stdout, err := start(opts)
	if err != nil {
		return nil, err
	}
	ctx, cancel := startContext(ctx, p, opts.StartTimeout)
	defer cancel()
	a, err := announced(ctx, p, stdout, opts)
	if err != nil {
		p.kill()
		return nil, err
	}
	c, err := dialAnnounced(ctx, a, opts)
	if err != nil {
		if ctx.Err() != nil {
			err = startError(ctx, p, opts, handshaking)
		}
		p.kill()
		return nil, err
	}
	c.proc = p
	return c, nil
}

// dialAnnounced connects to the address an engine announced.
func dialAnnounced(ctx context.Context, a protocol.Announcement, opts SpawnOptions) (*Conn, error) {
	if a.Network == protocol.NetworkTCP {
		if opts.TLS == nil {
			return nil, fmt.Errorf("engine announced tcp address %s: it requires mutual TLS, and SpawnOptions.TLS is not set", a.Address)
		}
		return dialTLS(ctx, a.Address, opts.TLS, opts.OnRPC)
	}
	return dialUnix(ctx, a.Address, opts.OnRPC)
}

// errStartTimeout is the cause of a start that ran out of StartTimeout.
var errStartTimeout = errors.New("start-up timeout")

// startContext is ctx bounded by the start-up timeout and ended early, with
// the exit as cause, if the engine exits. Cancel it when the start is over.
func startContext(ctx context.Context, p *process, timeout time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancelTimeout := context.WithTimeoutCause(ctx, timeout, errStartTimeout)
	ctx, cancel := context.WithCancelCause(ctx)
	go func() {
		select {
		case <-p.Exited():
			cancel(ErrEngineExited)
		case <-ctx.Done():
		}
	}()
	return ctx, func() { cancel(context.Canceled); cancelTimeout() }
}

// startPhase names a step of the start in its error messages.
type startPhase struct{ exited, timedOut string }

var (
	announcing  = startPhase{exited: "before announcing", timedOut: "no announce line"}
	handshaking = startPhase{exited: "during the handshake", timedOut: "no handshake"}
)

// startError explains a start whose context ended during phase: the
// engine's exit, the start-up timeout, or the caller's context.
func startError(ctx context.Context, p *process, opts SpawnOptions, phase startPhase) error {
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, ErrEngineExited):
		return &RetryableError{Err: fmt.Errorf("start engine %s: %w %s (%s)%s", opts.Path, ErrEngineExited, phase.exited, exitStatus(p.Err()), p.tail.Suffix("engine"))}
	case errors.Is(cause, errStartTimeout):
		return &RetryableError{Err: fmt.Errorf("start engine %s: %s within the start-up timeout %s%s", opts.Path, phase.timedOut, opts.StartTimeout, p.tail.Suffix("engine"))}
	default:
		return fmt.Errorf("start engine %s: %w", opts.Path, cause)
	}
}

func exitStatus(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// start starts the engine binary; it has not announced anything yet.
func start(opts SpawnOptions) (*process, io.ReadCloser, error) {
	path, err := exec.LookPath(opts.Path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, exec.ErrNotFound) {
			err = fmt.Errorf("%w: %w", ErrEngineNotFound, err)
		}
		return nil, nil, fmt.Errorf("start engine %s: %w", opts.Path, err)
	}
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		return nil, nil, fmt.Errorf("start engine %s: %w", opts.Path, err)
	}
	stdoutR, stdoutW, err := os.Pipe()
	if err != nil {
		stdinR.Close()
		stdinW.Close()
		return nil, nil, fmt.Errorf("start engine %s: %w", opts.Path, err)
	}
	p := &process{stdin: stdinW, tail: &childproc.Tail{Max: 4 << 10}}
	var stderr io.Writer = p.tail
	if opts.Stderr != nil {
		stderr = io.MultiWriter(opts.Stderr, p.tail)
	}
	cmd := exec.Command(path, opts.Args...)
	cmd.Env = opts.Env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdinR, stdoutW, stderr
	p.Process, err = childproc.Start(cmd)
	stdinR.Close()
	stdoutW.Close()
	if err != nil {
		stdinW.Close()
		stdoutR.Close()
		if errors.Is(err, fs.ErrNotExist) {
			err = fmt.Errorf("%w: %w", ErrEngineNotFound, err)
		}
		return nil, nil, fmt.Errorf("start engine %s: %w", opts.Path, err)
	}
	return p, stdoutR, nil
}

// announced waits for the engine's announce line on stdout.
func announced(ctx context.Context, p *process, stdout io.ReadCloser, opts SpawnOptions) (protocol.Announcement, error) {
	lines := make(chan string, 1)
	go func() {
		defer stdout.Close()
		r := bufio.NewReader(io.LimitReader(stdout, 64<<10))
		line, _ := r.ReadString('\n')
		lines <- line
		io.Copy(io.Discard, stdout) // an engine never writes more; don't block it if it does
	}()
	select {
	case line := <-lines:
		if line == "" {
			return protocol.Announcement{}, closedStdout(ctx, p, opts)
		}
		a, err := protocol.ParseAnnouncement(line)
		if err != nil {
			return a, fmt.Errorf("start engine %s: %w%s", opts.Path, err, p.tail.Suffix("engine"))
		}
		if a.Version != protocol.Version {
			return a, fmt.Errorf("start engine %s: speaks protocol %d, want %d", opts.Path, a.Version, protocol.Version)
		}
		return a, nil
	case <-ctx.Done():
		return protocol.Announcement{}, startError(ctx, p, opts, announcing)
	}
}

// closedStdout explains an engine whose stdout ended before it announced:
// with its exit status if it exits within stdoutGrace, as it normally does.
func closedStdout(ctx context.Context, p *process, opts SpawnOptions) error {
	t := time.NewTimer(stdoutGrace)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return startError(ctx, p, opts, announcing)
	case <-t.C:
		return &RetryableError{Err: fmt.Errorf("start engine %s: closed its stdout without announcing%s", opts.Path, p.tail.Suffix("engine"))}
	}
}

// kill ends the engine's whole process group, grandchildren included, and
// waits for the engine to be reaped.
func (p *process) kill() {
	p.Kill()
	<-p.Exited()
	p.stdin.Close()
}

// stop asks the engine to exit by closing its stdin, waits up to grace, then
// kills the group. It returns the exit error unless the exit was clean.
func (p *process) stop(grace time.Duration) error {
	p.stdin.Close()
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.Exited():
		p.Kill() // whatever the engine left running in its group
	case <-t.C:
		p.kill()
		return fmt.Errorf("engine pid %d: did not exit within %s, killed", p.Pid(), grace)
	}
	if err := p.Err(); err != nil && !p.killed.Load() {
		return fmt.Errorf("engine pid %d: %w: %v%s", p.Pid(), ErrEngineExited, err, p.tail.Suffix("engine"))
	}
	return nil
}

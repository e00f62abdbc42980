package engine

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/proofd/proofd/engine/protocol"
)

// SpawnOptions says how to start an engine process.
type SpawnOptions struct {
	// Path is the engine binary; Args its arguments (for proofd itself:
	// "engine", "serve", "--exit-on-stdin-eof").
	Path string
	Args []string
	Env  []string
	// Stderr receives the engine's log. The last few KiB are also kept to
	// explain a failed start.
	Stderr io.Writer
	// StartTimeout is the backstop for the announce line (default 60 s). A
	// process that exits fails the wait at once.
	StartTimeout time.Duration
}

// process is a running engine child.
type process struct {
	cmd    *exec.Cmd
	stdin  *os.File // closing it tells the engine to exit
	tail   *tailBuffer
	exited chan struct{}
	err    error       // valid after exited is closed
	killed atomic.Bool // we killed it on purpose
}

// spawn starts the engine and waits for its announce line.
func spawn(ctx context.Context, opts SpawnOptions) (*process, protocol.Announcement, error) {
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 60 * time.Second
	}
	if _, err := os.Stat(opts.Path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, protocol.Announcement{}, fmt.Errorf("start engine %s: %w", opts.Path, ErrEngineNotFound)
		}
		return nil, protocol.Announcement{}, fmt.Errorf("start engine %s: %w", opts.Path, err)
	}
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		return nil, protocol.Announcement{}, fmt.Errorf("start engine: %w", err)
	}
	stdoutR, stdoutW, err := os.Pipe()
	if err != nil {
		stdinR.Close()
		stdinW.Close()
		return nil, protocol.Announcement{}, fmt.Errorf("start engine: %w", err)
	}
	p := &process{stdin: stdinW, tail: &tailBuffer{max: 4 << 10}, exited: make(chan struct{})}
	var stderr io.Writer = p.tail
	if opts.Stderr != nil {
		stderr = io.MultiWriter(opts.Stderr, p.tail)
	}
	p.cmd = exec.Command(opts.Path, opts.Args...)
	p.cmd.Env = opts.Env
	p.cmd.Stdin, p.cmd.Stdout, p.cmd.Stderr = stdinR, stdoutW, stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}

	started := make(chan error, 1)
	go func() {
		// Pdeathsig fires when the *thread* that forked the child exits, not
		// the process (golang/go#27505). Keep this goroutine on its thread
		// until the child is reaped, so only our own death kills the engine.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		err := p.cmd.Start()
		started <- err
		if err != nil {
			close(p.exited)
			return
		}
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	err = <-started
	stdinR.Close()
	stdoutW.Close()
	if err != nil {
		stdinW.Close()
		stdoutR.Close()
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, exec.ErrNotFound) {
			err = fmt.Errorf("%w: %w", ErrEngineNotFound, err)
		}
		return nil, protocol.Announcement{}, fmt.Errorf("start engine %s: %w", opts.Path, err)
	}

	lines := make(chan string, 1)
	go func() {
		defer stdoutR.Close()
		r := bufio.NewReader(io.LimitReader(stdoutR, 64<<10))
		line, _ := r.ReadString('\n')
		lines <- line
		io.Copy(io.Discard, stdoutR) // an engine never writes more; don't block it if it does
	}()

	timer := time.NewTimer(opts.StartTimeout)
	defer timer.Stop()
	fail := func(err error) (*process, protocol.Announcement, error) {
		p.kill()
		return nil, protocol.Announcement{}, err
	}
	select {
	case line := <-lines:
		if line == "" {
			<-p.exited
			return fail(&RetryableError{Err: fmt.Errorf("start engine %s: %w before announcing (%v)%s", opts.Path, ErrEngineExited, p.err, p.tail.suffix())})
		}
		a, err := protocol.ParseAnnouncement(line)
		if err != nil {
			return fail(fmt.Errorf("start engine %s: %w%s", opts.Path, err, p.tail.suffix()))
		}
		if a.Version != protocol.Version {
			return fail(fmt.Errorf("start engine %s: speaks protocol %d, want %d", opts.Path, a.Version, protocol.Version))
		}
		return p, a, nil
	case <-p.exited:
		return fail(&RetryableError{Err: fmt.Errorf("start engine %s: %w before announcing (%v)%s", opts.Path, ErrEngineExited, p.err, p.tail.suffix())})
	case <-timer.C:
		return fail(&RetryableError{Err: fmt.Errorf("start engine %s: no announce line after %s%s", opts.Path, opts.StartTimeout, p.tail.suffix())})
	case <-ctx.Done():
		return fail(fmt.Errorf("start engine %s: %w", opts.Path, ctx.Err()))
	}
}

// Pid is the engine's process id.
func (p *process) Pid() int { return p.cmd.Process.Pid }

// kill ends the engine's whole process group and waits for it.
func (p *process) kill() {
	select {
	case <-p.exited:
	default:
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.exited
	}
	p.stdin.Close()
}

// stop asks the engine to exit by closing its stdin, waits up to grace, then
// kills the group. It returns the exit error unless the exit was clean.
func (p *process) stop(grace time.Duration) error {
	p.stdin.Close()
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.exited:
	case <-t.C:
		p.kill()
		return fmt.Errorf("engine pid %d: did not exit within %s, killed", p.Pid(), grace)
	}
	if p.err != nil && !p.killed.Load() {
		return fmt.Errorf("engine pid %d: %w: %v%s", p.Pid(), ErrEngineExited, p.err, p.tail.suffix())
	}
	return nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(b), nil
}

// suffix formats the tail for an error message.
func (t *tailBuffer) suffix() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.buf) == 0 {
		return ""
	}
	return "; engine stderr: " + string(t.buf)
}

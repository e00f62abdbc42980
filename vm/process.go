package vm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	preimage "github.com/ethereum-optimism/optimism/op-preimage"

	"github.com/proofd/proofd/internal/childproc"
)

// closeGrace is how long Close lets a preimage server exit on its own after
// its channels close, before it kills the group. A server exits at once on
// their EOF; the slack is for slow exits (a -race binary sleeps 1 s).
const closeGrace = 2 * time.Second

// ProcessOracle runs a preimage server as `cannon run -- cmd...` does: the
// child gets the host side of the hint channel on fds 3 (read) and 4
// (write) and of the preimage channel on fds 5 (read) and 6 (write), with
// NO_COLOR=1 prepended to this process's environment, and is spoken to with
// op-preimage's HintWriter and OracleClient.
//
// Unlike Cannon, the child is started by internal/childproc: it runs in its
// own process group, dies with this process (Pdeathsig), and is killed as a group when ctx is done or Close
// gives up waiting; and the child's ends of the pipes are closed here once
// it has started, so a dead server is seen at once as EOF instead of by
// polling. A ProcessOracle serves one machine at a time.
type ProcessOracle struct {
	name   string
	proc   *childproc.Process
	hints  *preimage.HintWriter
	client *preimage.OracleClient
	host   []io.Closer // our ends of both channels

	stop  func() bool // stops the context watcher
	cause atomic.Pointer[error]

	closeOnce sync.Once
	closeErr  error
}

// StartProcessOracle starts argv as a preimage server. Its stdout and
// stderr go to the given writers (nil discards). The server is killed, with
// its whole process group, when ctx is done; Close must be called either way.
func StartProcessOracle(ctx context.Context, argv []string, stdout, stderr io.Writer) (*ProcessOracle, error) {
	if len(argv) == 0 || argv[0] == "" {
		return nil, errors.New("start preimage server: no command")
	}
	hostP, serverP, err := preimage.CreateBidirectionalChannel()
	if err != nil {
		return nil, fmt.Errorf("start preimage server %s: %w", argv[0], err)
	}
	hostH, serverH, err := preimage.CreateBidirectionalChannel()
	if err != nil {
		hostP.Close()
		serverP.Close()
		return nil, fmt.Errorf("start preimage server %s: %w", argv[0], err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.ExtraFiles = []*os.File{serverH.Reader(), serverH.Writer(), serverP.Reader(), serverP.Writer()}
	cmd.Env = append([]string{"NO_COLOR=1"}, os.Environ()...)
	cmd.WaitDelay = closeGrace // a grandchild holding stdout must not hold up Wait
	proc, err := childproc.Start(cmd)
	serverH.Close()
	serverP.Close()
	if err != nil {
		hostH.Close()
		hostP.Close()
		return nil, fmt.Errorf("start preimage server %s: %w", argv[0], err)
	}
	p := &ProcessOracle{
		name:   argv[0],
		proc:   proc,
		hints:  preimage.NewHintWriter(hostH),
		client: preimage.NewOracleClient(hostP),
		host:   []io.Closer{hostH, hostP},
	}
	p.stop = context.AfterFunc(ctx, func() {
		cause := context.Cause(ctx)
		p.cause.Store(&cause)
		p.proc.Kill()
	})
	return p, nil
}

// Pid is the server's process id (and its process group id).
func (p *ProcessOracle) Pid() int { return p.proc.Pid() }

// Hint sends a hint and waits for the server's ack. On failure it panics
// with an error naming the server (Machine turns it into the step's error).
func (p *ProcessOracle) Hint(v []byte) {
	defer p.explainPanic("hint")
	p.hints.Hint(rawHint(v))
}

// GetPreimage asks the server for k's preimage. On failure it panics with
// an error naming the server and, if it has exited, how.
func (p *ProcessOracle) GetPreimage(k [32]byte) []byte {
	defer p.explainPanic("preimage request")
	return p.client.Get(rawKey(k))
}

// explainPanic rewraps a panic of op-preimage's client with what became of
// the server: killed for a done context (the error then wraps the
// context's cause), exited on its own, or still running.
func (p *ProcessOracle) explainPanic(what string) {
	r := recover()
	if r == nil {
		return
	}
	err, ok := r.(error)
	if !ok {
		err = fmt.Errorf("%v", r)
	}
	if cause := p.cause.Load(); cause != nil {
		panic(fmt.Errorf("preimage server %s was stopped: %w (%s: %v)", p.name, *cause, what, err))
	}
	select {
	case <-p.proc.Exited():
		panic(fmt.Errorf("preimage server %s exited (%v): %s: %w", p.name, exitStatus(p.proc.Err()), what, err))
	case <-time.After(50 * time.Millisecond): // an EOF usually means it is exiting: say how
		panic(fmt.Errorf("preimage server %s: %s: %w", p.name, what, err))
	}
}

func exitStatus(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// Close closes the channels (a well-behaved server exits on their EOF),
// waits up to closeGrace (2 s) for the server, then kills its process group, and
// reaps it. It returns the server's exit error if the server failed on its
// own, nil if it exited cleanly or was stopped by its context, and an error
// if it had to be killed here. Close is idempotent.
func (p *ProcessOracle) Close() error {
	p.closeOnce.Do(func() {
		p.stop()
		for _, c := range p.host {
			c.Close()
		}
		t := time.NewTimer(closeGrace)
		defer t.Stop()
		select {
		case <-p.proc.Exited():
			p.proc.Kill() // anything the server left running in its group
			switch {
			case p.cause.Load() != nil:
			case p.proc.Err() != nil:
				p.closeErr = fmt.Errorf("preimage server %s: %w", p.name, p.proc.Err())
			}
		case <-t.C:
			p.proc.Kill()
			<-p.proc.Exited()
			if p.cause.Load() == nil {
				p.closeErr = fmt.Errorf("preimage server %s did not exit within %s of its channels closing; killed", p.name, closeGrace)
			}
		}
	})
	return p.closeErr
}

type rawHint []byte

func (h rawHint) Hint() string { return string(h) }

type rawKey [32]byte

func (k rawKey) PreimageKey() [32]byte { return k }

package childproc

import (
	"os/exec"
	"runtime"
	"syscall"
	"time"
)

// WaitDelay is how long reaping waits for a child's output pipes to close
// after the child exited, when cmd.WaitDelay is not set: a grandchild that
// inherited them must not keep the child unreaped.
const WaitDelay = 2 * time.Second

// Process is a started child.
type Process struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // valid after exited is closed
}

// Start starts cmd in its own process group with SIGKILL as its
// parent-death signal, and reaps it when it exits. It overrides
// cmd.SysProcAttr's Setpgid and Pdeathsig and keeps its other fields.
func Start(cmd *exec.Cmd) (*Process, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pgid = 0
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	if cmd.WaitDelay == 0 {
		cmd.WaitDelay = WaitDelay
	}
	p := &Process{cmd: cmd, exited: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// Pdeathsig follows the forking thread: this goroutine keeps it
		// until the child is reaped, so only proofd's death kills the child.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.err = cmd.Wait()
		close(p.exited)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return p, nil
}

// Pid is the child's process id, which is also its process group id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited is closed once the child has exited and been reaped.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Err is the child's exit error as exec.Cmd.Wait reports it; nil for a
// clean exit. Call it only after Exited is closed.
func (p *Process) Err() error { return p.err }

// Kill sends SIGKILL to the child's process group, whether or not the child
// itself is still running. It does not wait; receive from Exited for that.
func (p *Process) Kill() {
	// ESRCH means the group is already gone, which is what Kill is for.
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
}

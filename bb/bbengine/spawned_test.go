package bbengine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/status"

	"github.com/proofd/proofd/bb/bbtest"
	"github.com/proofd/proofd/engine"
	"github.com/proofd/proofd/engine/enginetest"
	"github.com/proofd/proofd/proto/enginev1"
)

// spawnOptions start `proofd engine serve --kind bb` with bb on one thread
// (the tests run engines side by side on a small machine).
func spawnOptions(t *testing.T) engine.SpawnOptions {
	t.Helper()
	return engine.SpawnOptions{
		Path: enginetest.Proofd(t),
		Args: []string{"engine", "serve", "--kind", "bb", "--bb", bbtest.BB(t), "--bb-threads", "1", "--exit-on-stdin-eof"},
	}
}

// spawnOptionsIn are spawnOptions with the engine's TMPDIR in tmp, where
// its socket directory and bb's CRS copy go: an engine killed with SIGKILL
// cannot remove them, so the test's own temporary directory collects them.
func spawnOptionsIn(t *testing.T, tmp string) engine.SpawnOptions {
	t.Helper()
	o := spawnOptions(t)
	o.Env = append(os.Environ(), "TMPDIR="+tmp)
	return o
}

// spawn starts a bb engine process; it is closed when the test ends (an
// engine the test killed closes without an error).
func spawn(t *testing.T) *engine.Conn {
	t.Helper()
	opts := spawnOptions(t) // proofd built and bb installed before the start's minute begins
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := engine.Spawn(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestConformanceSpawned(t *testing.T) { enginetest.Run(t, spawn) }

// ctxT is a context for one test's calls: generous, so that a hung engine
// fails the test instead of hanging it.
func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// proc is a process's parent and state from /proc/PID/stat.
type proc struct {
	ppid  int
	state string
	comm  string
}

func readProc(pid int) (proc, bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return proc{}, false
	}
	// pid (comm) state ppid ...; comm may hold spaces, so split after ')'.
	s := string(b)
	open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	f := strings.Fields(s[closing+1:])
	if open < 0 || len(f) < 2 {
		return proc{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	return proc{ppid: ppid, state: f[0], comm: s[open+1 : closing]}, true
}

// gone reports whether pid has exited; a zombie has, whoever reaps it.
func gone(pid int) bool {
	p, ok := readProc(pid)
	return !ok || p.state == "Z" || p.state == "X"
}

// waitGone fails the test unless pid exits within a generous deadline.
func waitGone(t *testing.T, pid int, what string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !gone(pid); {
		if time.Now().After(deadline) {
			t.Fatalf("%s (pid %d) still running 10 s on", what, pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// bbChild is the pid of the engine's bb child, found through /proc.
func bbChild(enginePid int) (int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	var kids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := readProc(pid); ok && p.ppid == enginePid && p.comm == "bb" && p.state != "Z" {
			kids = append(kids, pid)
		}
	}
	if len(kids) != 1 {
		return 0, errors.New("engine pid " + strconv.Itoa(enginePid) + ": " + strconv.Itoa(len(kids)) + " bb children, want 1")
	}
	return kids[0], nil
}

// mustBBChild is bbChild for a test.
func mustBBChild(t *testing.T, c *engine.Conn) int {
	t.Helper()
	pid, err := bbChild(c.Pid())
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// sigkill sends SIGKILL to one process (not its group).
func sigkill(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill %d: %v", pid, err)
	}
}

// badInput is the input a BadInput detail of err names, and its reason.
func badInput(err error) (input, reason string, ok bool) {
	st, isStatus := status.FromError(err)
	if !isStatus {
		return "", "", false
	}
	for _, d := range st.Details() {
		if bi, isBI := d.(*enginev1.BadInput); isBI {
			return bi.GetInput(), bi.GetReason(), true
		}
	}
	return "", "", false
}

package enginetest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/proofd/proofd/engine"
	"github.com/proofd/proofd/engine/host"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildPath string
	buildErr  error
)

// Proofd builds ./cmd/proofd once per test process and returns its path.
// Call Cleanup from TestMain to remove it.
func Proofd(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		buildDir, buildErr = os.MkdirTemp("", "proofd-bin-")
		if buildErr != nil {
			return
		}
		buildPath = filepath.Join(buildDir, "proofd")
		cmd := exec.Command("go", "build", "-o", buildPath, "./cmd/proofd")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/proofd: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return buildPath
}

// sharedDirs are the directories SharedDir made, removed by Cleanup.
var (
	sharedMu   sync.Mutex
	sharedDirs = map[string]string{}
)

// SharedDir is a directory that lives as long as the test binary (one per
// name), for what the tests of a package may share, such as proving keys
// that are slow to make. Main removes it.
func SharedDir(tb testing.TB, name string) string {
	tb.Helper()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if dir, ok := sharedDirs[name]; ok {
		return dir
	}
	dir, err := os.MkdirTemp("", "proofd-test-"+name+"-")
	if err != nil {
		tb.Fatal(err)
	}
	sharedDirs[name] = dir
	return dir
}

// Cleanup removes the binary Proofd built and the SharedDir directories.
func Cleanup() {
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	sharedMu.Lock()
	defer sharedMu.Unlock()
	for name, dir := range sharedDirs {
		os.RemoveAll(dir)
		delete(sharedDirs, name)
	}
}

// Children lists the live child processes of this process (from /proc),
// zombies included: a zombie is a child nobody waited for.
func Children() ([]int, error) {
	me := os.Getpid()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var kids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces, so split after ')'.
		s := string(b)
		rest := s[strings.LastIndexByte(s, ')')+1:]
		f := strings.Fields(rest)
		if len(f) < 2 {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); ppid == me {
			kids = append(kids, pid)
		}
	}
	return kids, nil
}

// CheckNoChildren fails when child processes are still alive, after giving
// them a moment to be reaped.
func CheckNoChildren() error {
	var kids []int
	for range 50 {
		var err error
		if kids, err = Children(); err != nil {
			return err
		}
		// `go build` from Proofd is a child only while it runs.
		if len(kids) == 0 {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("leaked child processes: %v", kids)
}

// Main runs a test package's tests and then fails it if goroutines or
// child processes outlived them. Call it from TestMain. In a test binary
// FakeEngine started, it runs the fake engine instead.
func Main(m *testing.M) {
	if code, ran := runFake(); ran {
		os.Exit(code)
	}
	code := m.Run()
	Cleanup()
	if err := CheckNoChildren(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	if err := goleak.Find(knownLeaks...); err != nil {
		fmt.Fprintln(os.Stderr, "goleak:", err)
		code = 1
	}
	os.Exit(code)
}

// knownLeaks are goroutines that libraries leak, each with why it is
// tolerated.
var knownLeaks = []goleak.Option{
	// nats.go v1.55.0: ObjectStore.Put publishes through a JetStream context
	// of its own and then clears that context's status channel
	// (cleanupReplySub); the goroutine its first publish started
	// (resetPendingAcksOnReconnect) can read the channel after it was
	// cleared and block on a nil channel for good. One goroutine per object
	// uploaded, and a node uploads each artifact once per process.
	goleak.IgnoreTopFunction("github.com/nats-io/nats.go/jetstream.(*jetStream).resetPendingAcksOnReconnect"),
}

// InProcess serves an engine configuration inside the test process and
// connects to it; the connection is closed when the test ends.
func InProcess(t *testing.T, cfg host.Config) *engine.Conn {
	t.Helper()
	srv, err := host.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c, err := engine.InProcess(context.Background(), srv.ServeInProcess())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("close engine: %v", err)
		}
	})
	return c
}

// Spawn starts `proofd engine serve --kind kind` as a child process and
// connects to it; the engine is stopped when the test ends.
func Spawn(t *testing.T, kind string) *engine.Conn {
	t.Helper()
	bin := Proofd(t) // built first: a build on a loaded machine must not eat the start's minute
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := engine.Spawn(ctx, engine.SpawnOptions{
		Path: bin, Args: []string{"engine", "serve", "--kind", kind, "--exit-on-stdin-eof"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("close engine: %v", err)
		}
	})
	return c
}

package engine_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/proofd/proofd/engine"
	"github.com/proofd/proofd/engine/enginetest"
	"github.com/proofd/proofd/engine/protocol"
	"github.com/proofd/proofd/snark"
)

func spawnProofd(t *testing.T) *engine.Conn { return enginetest.Spawn(t, "snark") }

func inProcess(t *testing.T) *engine.Conn { return enginetest.InProcess(t, snark.Config(nil)) }

func TestConformanceSpawned(t *testing.T)   { enginetest.Run(t, spawnProofd) }
func TestConformanceInProcess(t *testing.T) { enginetest.Run(t, inProcess) }

func TestSpawnMissingBinary(t *testing.T) {
	_, err := engine.Spawn(context.Background(), engine.SpawnOptions{Path: "/nonexistent/proofd"})
	if !errors.Is(err, engine.ErrEngineNotFound) {
		t.Fatalf("got %v, want ErrEngineNotFound", err)
	}
	if engine.IsRetryable(err) {
		t.Fatal("a missing binary is marked retryable")
	}
}

func TestSpawnFindsEngineOnPath(t *testing.T) {
	t.Setenv("PATH", filepath.Dir(enginetest.Proofd(t)))
	c, err := engine.Spawn(context.Background(), engine.SpawnOptions{
		Path: "proofd", Args: []string{"engine", "serve", "--exit-on-stdin-eof"},
	})
	if err != nil {
		t.Fatalf("spawn proofd from $PATH: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = engine.Spawn(context.Background(), engine.SpawnOptions{Path: "proofd-no-such-engine"})
	if !errors.Is(err, engine.ErrEngineNotFound) {
		t.Fatalf("spawn of a name not on $PATH: got %v, want ErrEngineNotFound", err)
	}
}

// spawnWithin runs Spawn and fails the test if it has not returned within
// limit, so that a regression to a hang fails instead of stalling the run.
func spawnWithin(t *testing.T, limit time.Duration, opts engine.SpawnOptions) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		c, err := engine.Spawn(context.Background(), opts)
		if err == nil {
			err = errors.Join(errors.New("spawn succeeded"), c.Close())
		}
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(limit):
		t.Fatalf("Spawn did not return within %s", limit)
		return nil
	}
}

func TestSpawnEngineDiesAfterAnnouncing(t *testing.T) {
	for _, behaviour := range []string{enginetest.AnnouncesThenDies, enginetest.ListensThenDies} {
		t.Run(behaviour, func(t *testing.T) {
			opts := enginetest.FakeEngine(t, behaviour)
			opts.StartTimeout = time.Minute
			err := spawnWithin(t, opts.StartTimeout+2*time.Second, opts)
			if !errors.Is(err, engine.ErrEngineExited) || !engine.IsRetryable(err) {
				t.Fatalf("got %v, want a retryable ErrEngineExited", err)
			}
			if !strings.Contains(err.Error(), "exit status 3") {
				t.Errorf("error %q does not give the exit status", err)
			}
		})
	}
}

func TestSpawnHandshakeTimeout(t *testing.T) {
	opts := enginetest.FakeEngine(t, enginetest.NeverHandshakes)
	opts.StartTimeout = 2 * time.Second
	err := spawnWithin(t, opts.StartTimeout+30*time.Second, opts)
	if err == nil || !strings.Contains(err.Error(), "no handshake within the start-up timeout") || !engine.IsRetryable(err) {
		t.Fatalf("got %v, want a retryable handshake timeout", err)
	}
}

func TestSpawnEngineClosesStdout(t *testing.T) {
	opts := enginetest.FakeEngine(t, enginetest.ClosesStdout)
	opts.StartTimeout = time.Minute
	err := spawnWithin(t, opts.StartTimeout+2*time.Second, opts)
	if err == nil || !strings.Contains(err.Error(), "closed its stdout") || !engine.IsRetryable(err) {
		t.Fatalf("got %v, want a retryable 'closed its stdout' error", err)
	}
}

// An engine that exits while a grandchild holds its stderr is still seen
// to exit, not left unreaped until the start-up timeout.
func TestSpawnExitWhileGrandchildHoldsOutput(t *testing.T) {
	opts := engine.SpawnOptions{
		Path: "/bin/sh", Args: []string{"-c", "sleep 300 & exit 3"},
		StartTimeout: time.Minute,
	}
	err := spawnWithin(t, opts.StartTimeout+2*time.Second, opts)
	if !errors.Is(err, engine.ErrEngineExited) || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("got %v, want ErrEngineExited with exit status 3", err)
	}
}

// A failed start kills what the engine left in its process group, even
// though the engine itself has already exited.
func TestSpawnKillsGroupAfterLeaderExited(t *testing.T) {
	_, err := engine.Spawn(context.Background(), engine.SpawnOptions{
		Path: "/bin/sh", Args: []string{"-c", "sleep 300 </dev/null >/dev/null 2>&1 & echo grandchild=$! >&2; exit 3"},
	})
	m := regexp.MustCompile(`grandchild=(\d+)`).FindStringSubmatch(err.Error())
	if m == nil {
		t.Fatalf("error %v does not carry the grandchild's pid", err)
	}
	pid, _ := strconv.Atoi(m[1])
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	for deadline := time.Now().Add(10 * time.Second); !enginetest.Gone(pid); {
		if time.Now().After(deadline) {
			t.Fatalf("grandchild %d still running after the failed start", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSpawnExitBeforeAnnounce(t *testing.T) {
	start := time.Now()
	_, err := engine.Spawn(context.Background(), engine.SpawnOptions{
		Path: "/bin/sh", Args: []string{"-c", "echo cannot open model >&2; exit 3"},
		StartTimeout: time.Minute,
	})
	if err == nil {
		t.Fatal("spawn of a process that exits succeeded")
	}
	for _, want := range []string{"exit status 3", "cannot open model"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if !errors.Is(err, engine.ErrEngineExited) || !engine.IsRetryable(err) {
		t.Errorf("error %v: want ErrEngineExited, retryable", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("waited %s for a process that exited at once", time.Since(start))
	}
}

func TestSpawnBadAnnounce(t *testing.T) {
	_, err := engine.Spawn(context.Background(), engine.SpawnOptions{
		Path: "/bin/sh", Args: []string{"-c", "echo hello world; sleep 30"},
	})
	if err == nil || !strings.Contains(err.Error(), "announce line") {
		t.Fatalf("got %v, want an announce line error", err)
	}
}

func TestSpawnStartTimeout(t *testing.T) {
	_, err := engine.Spawn(context.Background(), engine.SpawnOptions{
		Path: "/bin/sh", Args: []string{"-c", "sleep 30"}, StartTimeout: 200 * time.Millisecond,
	})
	if err == nil || !strings.Contains(err.Error(), "no announce line") || !engine.IsRetryable(err) {
		t.Fatalf("got %v, want a retryable announce timeout", err)
	}
}

func TestSpawnContextCanceled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := engine.Spawn(ctx, engine.SpawnOptions{Path: "/bin/sh", Args: []string{"-c", "sleep 30"}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want DeadlineExceeded", err)
	}
}

func TestKilledEngineIsRetryable(t *testing.T) {
	c := spawnProofd(t)
	c.Kill()
	<-c.Exited()
	_, err := c.Health(context.Background())
	if !engine.IsRetryable(err) {
		t.Fatalf("call to a killed engine: got %v, want a retryable error", err)
	}
}

// TestEngineExitsWhenParentClosesStdin checks the stdin-EOF path alone:
// the engine is started by hand (not Spawn, whose Close sends Shutdown
// first), announces, and must exit on its own, removing its socket
// directory, once its stdin closes.
func TestEngineExitsWhenParentClosesStdin(t *testing.T) {
	cmd := exec.Command(enginetest.Proofd(t), "engine", "serve", "--exit-on-stdin-eof")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	go func() { exited <- cmd.Wait() }()
	if err != nil {
		cmd.Process.Kill()
		t.Fatalf("no announce line: %v", err)
	}
	a, err := protocol.ParseAnnouncement(line)
	if err != nil {
		cmd.Process.Kill()
		t.Fatal(err)
	}
	stdin.Close()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("engine exited with %v after stdin closed, want a clean exit", err)
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-exited
		t.Fatal("engine still running 10 s after its stdin closed")
	}
	if _, err := os.Stat(filepath.Dir(a.Address)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket directory %s left behind: %v", filepath.Dir(a.Address), err)
	}
}

// TestCloseStopsEngine: Close (Shutdown, then stdin, then the group) leaves
// no engine running.
func TestCloseStopsEngine(t *testing.T) {
	c := spawnProofd(t)
	pid := c.Pid()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Exited():
	default:
		t.Fatalf("engine %d still running after Close", pid)
	}
}

// A spawned engine's RPCs reach SpawnOptions.OnRPC: the handshake, a
// health check, and the shutdown Close sends.
func TestSpawnObservesRPCs(t *testing.T) {
	var mu sync.Mutex
	var got []string
	c, err := engine.Spawn(context.Background(), engine.SpawnOptions{
		Path: enginetest.Proofd(t), Args: []string{"engine", "serve", "--exit-on-stdin-eof"},
		OnRPC: func(method string, _ time.Duration, err error) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, fmt.Sprintf("%s %v", method, err))
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Health(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	// Shutdown may fail as the engine exits under it; it is observed anyway.
	if len(got) != 3 || !slices.Equal(got[:2], []string{"Handshake <nil>", "Health <nil>"}) || !strings.HasPrefix(got[2], "Shutdown ") {
		t.Fatalf("observed %q, want the handshake and health check, each without error, then the shutdown", got)
	}
}

package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/proofd/proofd/engine"
	"github.com/proofd/proofd/engine/enginetest"
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

func TestEngineExitsWhenParentClosesStdin(t *testing.T) {
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

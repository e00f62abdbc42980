package cli

import (
	"bytes"
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// blockedRun is work that ignores its context until the test ends.
func blockedRun(t *testing.T) func(context.Context) int {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	return func(context.Context) int {
		<-release
		return 0
	}
}

func TestInterruptibleNoSignal(t *testing.T) {
	var stderr bytes.Buffer
	got := interruptible(make(chan os.Signal), time.Hour, &stderr, func(context.Context) int { return 7 })
	if got != 7 {
		t.Fatalf("exit code %d, want the run's 7", got)
	}
}

func TestInterruptibleSignalCancelsWork(t *testing.T) {
	sigs := make(chan os.Signal, 1)
	sigs <- syscall.SIGTERM
	var stderr bytes.Buffer
	got := interruptible(sigs, time.Hour, &stderr, func(ctx context.Context) int {
		<-ctx.Done()
		return 9
	})
	if got != 9 {
		t.Fatalf("exit code %d, want the run's 9: work that stops in time reports its own result", got)
	}
}

func TestInterruptibleAbandonsStuckWork(t *testing.T) {
	sigs := make(chan os.Signal, 1)
	sigs <- syscall.SIGTERM
	var stderr bytes.Buffer
	got := interruptible(sigs, 10*time.Millisecond, &stderr, blockedRun(t))
	if got != exitInterrupted || !strings.Contains(stderr.String(), "abandoning") {
		t.Fatalf("exit code %d, stderr %q; want %d and the work abandoned", got, stderr.String(), exitInterrupted)
	}
}

func TestInterruptibleSecondSignal(t *testing.T) {
	sigs := make(chan os.Signal, 2)
	sigs <- syscall.SIGINT
	sigs <- syscall.SIGTERM
	var stderr bytes.Buffer
	// With an hour's grace, only the second signal can end the wait.
	got := interruptible(sigs, time.Hour, &stderr, blockedRun(t))
	if got != exitInterrupted || !strings.Contains(stderr.String(), "second signal") {
		t.Fatalf("exit code %d, stderr %q; want %d after a second signal", got, stderr.String(), exitInterrupted)
	}
}

package pool_test

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/proofd/proofd/engine/pool"
)

// TestPoolHealthCheckReplacesHungEngine: an idle engine that stops
// answering (SIGSTOP) is found by the periodic health check and replaced.
func TestPoolHealthCheckReplacesHungEngine(t *testing.T) {
	reasons := make(chan string, 4)
	f := newFactory(t, pool.Config{
		PoolSize:       1,
		HealthInterval: 50 * time.Millisecond,
		HealthTimeout:  200 * time.Millisecond,
		Hooks:          pool.Hooks{Died: func(r string) { reasons <- r }},
	})
	l, err := f.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	hung := l.Pid()
	l.Release()
	if err := syscall.Kill(hung, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(hung, syscall.SIGCONT) })
	select {
	case r := <-reasons:
		if !strings.HasPrefix(r, "health check") {
			t.Fatalf("engine found dead because %q, want a failed health check", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the health check did not find the stopped engine")
	}
	l, err = f.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if l.Pid() == hung {
		t.Fatal("the hung engine was handed out again")
	}
	if _, err := l.Health(context.Background()); err != nil {
		t.Fatalf("replacement engine: %v", err)
	}
	for deadline := time.Now().Add(10 * time.Second); alive(hung); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the hung engine %d was not stopped", hung)
		}
	}
}

package pool_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/engine"
	"github.com/proofd/proofd/engine/pool"
)

// TestDoPoisonRequest: a request that kills every engine it runs on (as an
// untrusted circuit that crashes gnark's solver does) kills two engines,
// not nine; Do names its inputs in a non-retryable error, the hook counts
// it, and the factory goes on serving other requests.
func TestDoPoisonRequest(t *testing.T) {
	fx := newVerifyFixture(t, 2)
	for _, size := range []int{0, 2} {
		t.Run(map[int]string{0: "fresh", 2: "pooled"}[size], func(t *testing.T) {
			var mu sync.Mutex
			var poisoned [][]artifact.Digest
			hooks := pool.Hooks{Poison: func(in []artifact.Digest) {
				mu.Lock()
				poisoned = append(poisoned, in)
				mu.Unlock()
			}}
			f := newFactory(t, pool.Config{PoolSize: size, Hooks: hooks})
			ctx := context.Background()
			inputs := []artifact.Digest{fx.vk.Digest, artifact.New([]byte("witness")).Digest}
			var killed []int
			err := f.Do(ctx, inputs, func(c *engine.Conn) error {
				killed = append(killed, c.Pid())
				syscall.Kill(c.Pid(), syscall.SIGKILL)
				<-c.Exited()
				return fx.verify(ctx, c)
			})
			if !errors.Is(err, pool.ErrPoisonRequest) || engine.IsRetryable(err) {
				t.Fatalf("poison request: got %v, want ErrPoisonRequest, not retryable", err)
			}
			var pe *pool.PoisonError
			if !errors.As(err, &pe) || !slices.Equal(pe.Inputs, inputs) || pe.Deaths != 2 {
				t.Fatalf("poison error %+v, want inputs %v and 2 deaths", pe, inputs)
			}
			for _, d := range inputs {
				if !strings.Contains(err.Error(), d.String()) {
					t.Errorf("error %q does not name input %s", err, d)
				}
			}
			if len(killed) != 2 || killed[0] == killed[1] {
				t.Fatalf("the request ran on engines %v, want two different ones", killed)
			}
			mu.Lock()
			if len(poisoned) != 1 || !slices.Equal(poisoned[0], inputs) {
				t.Errorf("Poison hook saw %v, want one call with %v", poisoned, inputs)
			}
			mu.Unlock()
			if err := f.Do(ctx, []artifact.Digest{fx.vk.Digest}, func(c *engine.Conn) error { return fx.verify(ctx, c) }); err != nil {
				t.Fatalf("an ordinary request after the poison one: %v", err)
			}
		})
	}
}

// TestDoRetries: NoRetries means one attempt; zero means the default.
func TestDoRetries(t *testing.T) {
	boom := errors.New("boom")
	death := &engine.RetryableError{Err: errors.New("engine died")}
	for _, tc := range []struct {
		name                  string
		retries, deathRetries int
		fail                  error
		wantAttempts          int
	}{
		{"default retries", 0, 0, boom, 3},
		{"no retries", pool.NoRetries, 0, boom, 1},
		{"one retry", 1, 0, boom, 2},
		{"no death retries", 0, pool.NoRetries, death, 1},
		{"default death retries", 0, 0, death, 2},
		{"three death retries", pool.NoRetries, 3, death, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFactory(t, pool.Config{PoolSize: 1, Start: inProcessStart, Retries: tc.retries, DeathRetries: tc.deathRetries})
			attempts := 0
			err := f.Do(context.Background(), nil, func(*engine.Conn) error { attempts++; return tc.fail })
			want := boom
			if tc.fail == death {
				want = pool.ErrPoisonRequest
			}
			if !errors.Is(err, want) || attempts != tc.wantAttempts {
				t.Fatalf("got %v after %d attempts, want %v after %d", err, attempts, want, tc.wantAttempts)
			}
		})
	}
}

// TestDoBacksOff: retries of a failing call wait, and the waits grow.
// (TestBackOffJitters checks the jitter without a clock.)
func TestDoBacksOff(t *testing.T) {
	f := newFactory(t, pool.Config{Start: inProcessStart, Retries: 3})
	var at []time.Time
	f.Do(context.Background(), nil, func(*engine.Conn) error { at = append(at, time.Now()); return errors.New("boom") })
	if len(at) != 4 {
		t.Fatalf("%d attempts, want 4", len(at))
	}
	for k, min := range []time.Duration{25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond} {
		if gap := at[k+1].Sub(at[k]); gap < min {
			t.Errorf("waited %v before retry %d, want at least %v", gap, k+1, min)
		}
	}
}

// TestPoolRespawnBacksOff: a replacement engine that fails to start is
// retried with growing waits, and the slot comes back once a start works.
func TestPoolRespawnBacksOff(t *testing.T) {
	var mu sync.Mutex
	var starts []time.Time
	start := func(ctx context.Context) (*engine.Conn, error) {
		mu.Lock()
		starts = append(starts, time.Now())
		n := len(starts)
		mu.Unlock()
		if n >= 2 && n <= 4 {
			return nil, errors.New("start refused")
		}
		return inProcessStart(ctx)
	}
	f := newFactory(t, pool.Config{PoolSize: 1, Start: start})
	l, err := f.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	first := l.Conn
	l.MarkDead()
	l.Release()
	if l, err = f.Get(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if l.Conn == first {
		t.Fatal("the engine marked dead was handed out again")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(starts) != 5 {
		t.Fatalf("%d starts, want 5 (1, 3 refused, 1)", len(starts))
	}
	for i, min := range []time.Duration{25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond} {
		if gap := starts[i+2].Sub(starts[i+1]); gap < min {
			t.Errorf("wait before respawn attempt %d: %v, want at least %v", i+2, gap, min)
		}
	}
}

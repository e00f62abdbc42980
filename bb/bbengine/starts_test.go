package bbengine

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proofd/proofd/engine"
)

// startsDefault is how many engines TestManyStarts starts without
// PROOFD_BB_STARTS: issue 11's 1000. On the shared 2-core development
// machine they take about 75 s (75 ms a start, 8 at a time), 200 about
// 15 s; PROOFD_BB_STARTS sets another count.
const startsDefault = 1000

// Many bb engines started 8 at a time all come up, answer Health and
// close cleanly: no start-up race between the engine, bb and the CRS
// copy. Each engine's start, health check and close is counted as one.
func TestManyStarts(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts hundreds of engines")
	}
	n := startsDefault
	if s := os.Getenv("PROOFD_BB_STARTS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n <= 0 {
			t.Fatalf("PROOFD_BB_STARTS=%q: want a positive count", s)
		}
	}
	const workers = 8
	opts := spawnOptions(t)
	once := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, err := engine.Spawn(ctx, opts)
		if err != nil {
			return err
		}
		if _, err := bbChild(c.Pid()); err != nil {
			c.Close()
			return err
		}
		_, err = c.Health(ctx)
		if cerr := c.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close: %w", cerr)
		}
		return err
	}

	var next, failures atomic.Int64
	var mu sync.Mutex
	var firstErrs []error
	var wg sync.WaitGroup
	t0 := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				if err := once(); err != nil {
					failures.Add(1)
					mu.Lock()
					if len(firstErrs) < 5 {
						firstErrs = append(firstErrs, err)
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	d := time.Since(t0)
	t.Logf("%d bb engine starts, %d at a time: %d failures in %v (%v a start)", n, workers, failures.Load(), d.Round(time.Millisecond), (d / time.Duration(n)).Round(time.Millisecond))
	if failures.Load() != 0 {
		t.Fatalf("%d of %d starts failed; first: %v", failures.Load(), n, firstErrs)
	}
}

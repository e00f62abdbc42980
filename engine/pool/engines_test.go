package pool_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/engine"
	"github.com/proofd/proofd/engine/pool"
)

// TestEnginesSnapshot: Engines reports each slot's state, address, what the
// pool believes it holds and how many leases it served, through a lease, a
// death and the replacement's start.
func TestEnginesSnapshot(t *testing.T) {
	var starts atomic.Int32
	gate := make(chan struct{}) // holds back the third start: a replacement
	start := func(ctx context.Context) (*engine.Conn, error) {
		if starts.Add(1) == 3 {
			select {
			case <-gate:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		return inProcessStart(ctx)
	}
	f := newFactory(t, pool.Config{PoolSize: 2, Start: start})
	if got := f.Engines(); got != nil {
		t.Fatalf("before the first Get: %+v, want nil", got)
	}
	ctx := context.Background()
	d := artifact.Digest{7}
	l, err := f.Get(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	got := f.Engines()
	if len(got) != 2 {
		t.Fatalf("pool of 2 reports %d engines: %+v", len(got), got)
	}
	busy := slices.IndexFunc(got, func(e pool.EngineInfo) bool { return e.State == "busy" })
	if busy < 0 || got[1-busy].State != "idle" {
		t.Fatalf("one lease out: %+v, want one busy and one idle", got)
	}
	for i, e := range got {
		if e.Slot != i || e.Address != "inprocess" {
			t.Errorf("engine %d: slot %d address %q, want %d and \"inprocess\"", i, e.Slot, e.Address, i)
		}
	}
	if e := got[busy]; !slices.Equal(e.Resident, []artifact.Digest{d}) || e.Calls != 1 {
		t.Errorf("leased slot: resident %v calls %d, want [%v] and 1", e.Resident, e.Calls, d)
	}
	if e := got[1-busy]; len(e.Resident) != 0 || e.Calls != 0 {
		t.Errorf("idle slot: resident %v calls %d, want none", e.Resident, e.Calls)
	}
	got[busy].Resident[0] = artifact.Digest{9} // the snapshot is the caller's
	if f.Engines()[busy].Resident[0] != d {
		t.Error("changing a snapshot changed the pool's affinity table")
	}

	l.MarkDead()
	l.Release()
	e := f.Engines()[busy]
	if e.State != "starting" || e.Address != "" || e.Resident != nil || e.Calls != 1 {
		t.Errorf("slot whose engine died, replacement held back: %+v, want starting, no address, nothing resident, 1 call", e)
	}
	close(gate)
	deadline := time.Now().Add(10 * time.Second)
	for f.Engines()[busy].State != "idle" {
		if time.Now().After(deadline) {
			t.Fatalf("replacement not idle: %+v", f.Engines())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := f.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.Engines(); got != nil {
		t.Errorf("after Close: %+v, want nil", got)
	}
}

// TestEnginesFresh: in fresh mode Engines lists the leases in flight,
// oldest first.
func TestEnginesFresh(t *testing.T) {
	f := newFactory(t, pool.Config{Start: inProcessStart})
	if got := f.Engines(); got != nil {
		t.Fatalf("no lease out: %+v, want nil", got)
	}
	ctx := context.Background()
	l1, err := f.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	l2, err := f.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := f.Engines()
	if len(got) != 2 {
		t.Fatalf("two leases out: %+v", got)
	}
	for i, e := range got {
		if e.Slot != i || e.State != "busy" || e.Address != "inprocess" || e.Calls != 1 || e.Resident != nil {
			t.Errorf("lease %d: %+v, want slot %d, busy, inprocess, 1 call, nothing resident", i, e, i)
		}
	}
	l1.Release()
	if got := f.Engines(); len(got) != 1 || got[0].Slot != 0 {
		t.Errorf("one lease out: %+v", got)
	}
	l2.Release()
	if got := f.Engines(); got != nil {
		t.Errorf("all released: %+v, want nil", got)
	}
}

// TestEnginesConcurrent: snapshots taken while calls run (for -race).
func TestEnginesConcurrent(t *testing.T) {
	f := newFactory(t, pool.Config{PoolSize: 2, Start: inProcessStart})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			for _, e := range f.Engines() {
				_ = e.Resident
			}
		}
	}()
	var calls sync.WaitGroup
	for i := range 4 {
		calls.Add(1)
		go func() {
			defer calls.Done()
			for range 20 {
				if err := f.Do(ctx, []artifact.Digest{{byte(i)}}, func(*engine.Conn) error { return nil }); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	calls.Wait()
	cancel()
	wg.Wait()
	var total uint64
	for _, e := range f.Engines() {
		total += e.Calls
	}
	if total != 80 {
		t.Errorf("calls over all slots: %d, want 80", total)
	}
}

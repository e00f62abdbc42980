package pool_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/engine"
	"github.com/proofd/proofd/engine/host"
	"github.com/proofd/proofd/engine/pool"
	"github.com/proofd/proofd/snark"
)

func inProcessStart(ctx context.Context) (*engine.Conn, error) {
	srv, err := host.NewServer(snark.Config(nil))
	if err != nil {
		return nil, err
	}
	return engine.InProcess(ctx, srv.ServeInProcess())
}

// TestLeaseHoldsAndResident: what a lease reports the engine holds steers
// later calls to it; a reported resident set replaces what was believed.
func TestLeaseHoldsAndResident(t *testing.T) {
	f := newFactory(t, pool.Config{PoolSize: 2, Start: inProcessStart})
	ctx := context.Background()
	ccs, pk, other := artifact.Digest{1}, artifact.Digest{2}, artifact.Digest{3}
	var setupOn *engine.Conn
	err := f.DoLease(ctx, []artifact.Digest{ccs}, func(l *pool.Lease) error {
		setupOn = l.Conn
		l.Holds(pk) // as after a Setup that produced pk
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	l, err := f.Get(ctx, pk)
	if err != nil {
		t.Fatal(err)
	}
	if l.Conn != setupOn {
		t.Fatal("a call needing pk went to an engine that does not hold it")
	}
	l.Resident([]artifact.Digest{other}) // the engine evicted ccs and pk
	l.Release()
	if l, err = f.Get(ctx, pk); err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if l.Conn == setupOn {
		t.Fatal("a call needing pk went to the engine that reported it no longer holds pk")
	}
}

// TestHealthTeachesWhatEnginesHold: an engine evicts behind the pool's back
// (here, uploads straight to it); the next health check reports what it
// really holds, and calls stop preferring it for what it let go.
func TestHealthTeachesWhatEnginesHold(t *testing.T) {
	small := func(ctx context.Context) (*engine.Conn, error) {
		cfg := snark.Config(nil)
		cfg.MaxResidentBytes = 1000
		srv, err := host.NewServer(cfg)
		if err != nil {
			return nil, err
		}
		return engine.InProcess(ctx, srv.ServeInProcess())
	}
	f := newFactory(t, pool.Config{PoolSize: 2, Start: small, HealthInterval: 20 * time.Millisecond})
	ctx := context.Background()
	blob := func(b byte) artifact.Artifact { return artifact.New(bytes.Repeat([]byte{b}, 600)) }
	k1, k2 := blob(1), blob(2)

	l, err := f.Get(ctx, k1.Digest)
	if err != nil {
		t.Fatal(err)
	}
	x := l.Conn
	if err := x.Upload(ctx, "test", k1); err != nil {
		t.Fatal(err)
	}
	l.Release()
	// k2 does not fit beside k1: the engine evicts k1, and the pool was not told.
	if err := x.Upload(ctx, "test", k2); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		l, err := f.Get(ctx, k1.Digest)
		if err != nil {
			t.Fatal(err)
		}
		other := l.Conn != x
		l.Release()
		if other {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("5 s of health checks later, calls needing k1 still go to the engine that evicted it")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

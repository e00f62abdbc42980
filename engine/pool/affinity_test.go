package pool_test

import (
	"context"
	"testing"

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

package bench

import (
	"context"
	"testing"
	"time"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/engine"
	"github.com/proofd/proofd/engine/enginetest"
	"github.com/proofd/proofd/engine/pool"
	"github.com/proofd/proofd/engine/snarkclient"
)

// BenchmarkVerifyPath splits a pooled verification into its parts. Each
// iteration runs, in turn: gnark in this process (the baseline), a Health
// call on a spawned engine (the transport floor), Health through the pool
// (plus the lease), a verify on the spawned engine, and a verify through
// the pool. It reports each part's median in µs, the engine's own decode
// and verify stages, and pooled/inprocess, the ratio `proofd bench pool`
// tracks.
//
//	go test -run XXX -bench VerifyPath -benchtime 2000x ./internal/bench
func BenchmarkVerifyPath(b *testing.B) {
	fx, err := newVerifyFixture(2)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	spawn := engine.SpawnOptions{Path: enginetest.Proofd(b), Args: []string{"engine", "serve", "--exit-on-stdin-eof"}}
	f, err := pool.New(pool.Config{PoolSize: 1, Start: func(ctx context.Context) (*engine.Conn, error) { return engine.Spawn(ctx, spawn) }})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close(ctx)
	conn, err := engine.Spawn(ctx, spawn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	aff := []artifact.Digest{fx.vk.Digest}
	pooledVerify := func() error { return f.Do(ctx, aff, func(c *engine.Conn) error { return fx.verifyOn(ctx, c) }) }
	pooledHealth := func() error {
		return f.Do(ctx, aff, func(c *engine.Conn) error { _, err := c.Health(ctx); return err })
	}
	stages := map[string][]time.Duration{}
	connVerify := func() error {
		res, err := snarkclient.New(conn).Verify(ctx, snarkclient.VerifyRequest{VK: fx.vk, Proof: fx.proof, Public: fx.public})
		if err != nil {
			return err
		}
		for _, t := range res.Timings {
			stages[t.Stage] = append(stages[t.Stage], t.Duration)
		}
		return nil
	}
	connHealth := func() error { _, err := conn.Health(ctx); return err }
	for _, warm := range []func() error{pooledVerify, connVerify} {
		if err := warm(); err != nil {
			b.Fatal(err)
		}
	}
	s := samples{}
	cases := []struct {
		name string
		fn   func() error
	}{
		{"inprocess", fx.verifyInProcess}, {"health", connHealth}, {"pool-health", pooledHealth},
		{"conn-verify", connVerify}, {"pooled-verify", pooledVerify},
	}
	for b.Loop() {
		for _, c := range cases {
			if err := timeit(s, c.name, c.fn); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, c := range cases {
		b.ReportMetric(s.median(c.name)*1e3, c.name+"-µs")
	}
	for stage, d := range stages {
		b.ReportMetric(float64(median(d).Nanoseconds())/1e3, "engine-"+stage+"-µs")
	}
	b.ReportMetric(s.median("pooled-verify")/s.median("inprocess"), "pooled/inprocess")
	b.ReportMetric(0, "ns/op") // the parts above are the result; the sum is not
}

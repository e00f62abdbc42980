package node

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/proofd/proofd/artifact/artcache"
	"github.com/proofd/proofd/engine/enginetest"
	"github.com/proofd/proofd/examples/rollup"
	"github.com/proofd/proofd/queue"
	"github.com/proofd/proofd/queue/natsq"
	"github.com/proofd/proofd/queue/natsq/natsqmetrics"
	"github.com/proofd/proofd/queue/natsq/natsserver"
	"github.com/proofd/proofd/receipts"
)

// A node with nats proves on two workers (each its own engine pool and
// artifact cache, in this process) and stores exactly the receipts a node
// proving on its own pool stores: the same keys (an aggregate's up to its
// statement, which binds randomized proofs), through the same reorg.
func TestNodeProvesThroughWorkers(t *testing.T) {
	if testing.Short() {
		t.Skip("proves a chain twice, on workers and on one machine (~1 min)")
	}
	srv, err := natsserver.Start(t.TempDir(), natsserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	var workers []*prometheus.Registry
	for i := range 2 {
		reg := prometheus.NewRegistry()
		workers = append(workers, reg)
		runWorker(t, srv.URL(), i, reg)
	}

	base := Defaults()
	base.HTTPAddr, base.Engines, base.MaxBehind = "127.0.0.1:0", 1, 2
	base.KeysDir = enginetest.SharedDir(t, "node-keys")
	base.Depth, base.TxsPerBlock, base.BundleSize, base.ShutdownFor = 4, 1, 2, 2*time.Second
	reqs := simulated(t, rollup.SimConfig{Params: base.Params(), Seed: 4, Blocks: 4, Reorgs: 1, FinalityDepth: 2})

	keysOf := func(cfg Config) []string {
		n := start(t, cfg, inProcessPool(t))
		submit(t, n.base, reqs, true)
		deadline := time.Now().Add(5 * time.Minute)
		for status(t, n.base).SettlementHeight != 4 {
			if time.Now().After(deadline) {
				t.Fatalf("no settlement at height 4: %v", status(t, n.base))
			}
			time.Sleep(300 * time.Millisecond)
		}
		if st := status(t, n.base); st.Reorgs == 0 || stage(st, "tx").CacheHits == 0 {
			t.Errorf("the flip found nothing in the store: %v", st)
		}
		n.shutdown(t)
		return storedKeys(t, filepath.Join(cfg.DataDir, "receipts"))
	}
	viaNATS := base
	viaNATS.DataDir, viaNATS.NATS = t.TempDir(), srv.URL()
	got := keysOf(viaNATS)
	local := base
	local.DataDir = t.TempDir()
	want := keysOf(local)
	if !slices.Equal(got, want) {
		t.Fatalf("through workers the node stored %d receipts, on its own pool %d; they differ:\n%v\n%v", len(got), len(want), got, want)
	}
	jobs := 0.0
	for i, reg := range workers {
		n := counter(t, reg, "proofd_worker_jobs_total")
		t.Logf("worker %d answered %v jobs", i, n)
		jobs += n
	}
	if jobs == 0 {
		t.Fatal("the workers answered no jobs")
	}
}

// runWorker runs a worker in this process on its own in-process engine
// pool until the test ends.
func runWorker(t *testing.T, url string, i int, reg *prometheus.Registry) {
	t.Helper()
	nc, err := natsq.ConnConfig{URL: url, Name: "worker"}.Connect()
	if err != nil {
		t.Fatal(err)
	}
	hooks, cacheHooks, err := natsqmetrics.Worker(reg)
	if err != nil {
		t.Fatal(err)
	}
	cache, err := artcache.Open(artcache.Options{Dir: t.TempDir(), Hooks: cacheHooks})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- natsq.RunWorker(ctx, nc, natsq.WorkerConfig{Name: "w" + string(rune('0'+i)), AckWait: 10 * time.Second,
			Engines: queue.Local{Pool: inProcessPool(t)}, Cache: cache, Hooks: hooks})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		nc.Close()
	})
}

func storedKeys(t *testing.T, dir string) []string {
	t.Helper()
	s, err := receipts.Open(dir, receipts.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var keys []string
	err = s.Keys(func(k receipts.Key) error {
		if k.Kind == receipts.KindAggregate {
			// An aggregate's statement binds its batch proofs' bytes, and
			// Groth16 proofs are randomized: two runs agree on the rest.
			k.Statement = [32]byte{}
		}
		keys = append(keys, k.String())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	return keys
}

func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

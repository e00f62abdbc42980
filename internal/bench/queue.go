package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/proofd/proofd/artifact/artcache"
	"github.com/proofd/proofd/engine"
	"github.com/proofd/proofd/engine/pool"
	"github.com/proofd/proofd/queue"
	"github.com/proofd/proofd/queue/natsq"
	"github.com/proofd/proofd/queue/natsq/natsserver"
)

// QueueConfig configures the queue benchmark.
type QueueConfig struct {
	Spawn engine.SpawnOptions
	// Log2 is the size of the proven MiMC circuit (default 16: about a
	// second's proof on a 2-core machine).
	Log2   int
	Rounds int // default 5
	// Reps is the proofs per path per round (default 3); verifications run
	// 10 times as many.
	Reps     int
	Progress io.Writer
}

// Queue measures the same jobs through the local pool (queue.Local) and
// through JetStream (natsq.Client → an in-process nats-server → a worker
// in this process on the same pool), alternated call by call, rounds
// apart: a proof with its verification (the pipeline's job) and a small
// verification; and an artifact's fetch cold (the object store) against
// the host cache's memory and disk.
func Queue(ctx context.Context, cfg QueueConfig) (*Report, error) {
	if cfg.Log2 == 0 {
		cfg.Log2 = 16
	}
	if cfg.Rounds == 0 {
		cfg.Rounds = 5
	}
	if cfg.Reps == 0 {
		cfg.Reps = 3
	}
	progress := func(format string, args ...any) {
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, format+"\n", args...)
		}
	}
	tmp, err := os.MkdirTemp("", "proofd-bench-queue-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	progress("bench queue: building and setting up a 2^%d MiMC circuit", cfg.Log2)
	fx, err := newEngineFixture(cfg.Log2)
	if err != nil {
		return nil, err
	}
	f, err := pool.New(pool.Config{PoolSize: 1, Start: func(ctx context.Context) (*engine.Conn, error) { return engine.Spawn(ctx, cfg.Spawn) }})
	if err != nil {
		return nil, err
	}
	defer f.Close(context.WithoutCancel(ctx))
	srv, err := natsserver.Start(tmp+"/nats", natsserver.Options{})
	if err != nil {
		return nil, err
	}
	defer srv.Shutdown()

	nodeConn, err := natsq.ConnConfig{URL: srv.URL(), Name: "bench node"}.Connect()
	if err != nil {
		return nil, err
	}
	defer nodeConn.Close()
	client, err := natsq.NewClient(ctx, nodeConn, natsq.ClientConfig{Node: "bench"})
	if err != nil {
		return nil, err
	}
	defer client.Close()
	workerConn, err := natsq.ConnConfig{URL: srv.URL(), Name: "bench worker"}.Connect()
	if err != nil {
		return nil, err
	}
	defer workerConn.Close()
	cache, err := artcache.Open(artcache.Options{Dir: tmp + "/cache"})
	if err != nil {
		return nil, err
	}
	local := queue.Local{Pool: f}
	wctx, stopWorker := context.WithCancel(ctx)
	workerDone := make(chan error, 1)
	go func() {
		workerDone <- natsq.RunWorker(wctx, workerConn, natsq.WorkerConfig{Name: "bench", Engines: local, Cache: cache, AckWait: time.Minute})
	}()
	defer func() { stopWorker(); <-workerDone }()

	vk := fx.vkA
	seq := 0
	proveJob := func() queue.Prove {
		seq++ // every job new: a repeated id is answered by its kept result
		return queue.Prove{ID: fmt.Sprintf("p%d", seq), Attempt: 1, Name: "bench", CCS: fx.ccsA, PK: fx.pkA, VK: &vk, Witness: fx.wit}
	}
	verifyJob := func() queue.Verify {
		seq++
		return queue.Verify{ID: fmt.Sprintf("v%d", seq), Attempt: 1, Name: "bench", VK: fx.vkA, Proof: fx.proofB, Public: fx.public}
	}
	checkVerdict := func(v *engine.VerifyResult, err error) error {
		if err == nil && !v.Valid {
			err = errors.New("the proof does not verify: " + v.Reason)
		}
		return err
	}
	paths := []struct {
		name   string
		prove  func() error
		verify func() error
	}{
		{"local", func() error { _, err := local.Prove(ctx, proveJob()); return err },
			func() error { return checkVerdict(local.Verify(ctx, verifyJob())) }},
		{"jetstream", func() error { _, err := client.Prove(ctx, proveJob()); return err },
			func() error { return checkVerdict(client.Verify(ctx, verifyJob())) }},
	}
	// Warm both paths: the engine holds the circuit and keys, the worker's
	// cache the artifacts, the bucket the uploads.
	for _, p := range paths {
		if err := p.prove(); err != nil {
			return nil, fmt.Errorf("warm up %s: %w", p.name, err)
		}
		if err := p.verify(); err != nil {
			return nil, fmt.Errorf("warm up %s: %w", p.name, err)
		}
	}

	rep := newReport("queue")
	s := samples{}
	var proveRatio, verifyRatio, proveOver, verifyOver []float64
	for r := range cfg.Rounds {
		progress("bench queue: round %d/%d: %d proofs and %d verifications per path", r+1, cfg.Rounds, cfg.Reps, 10*cfg.Reps)
		round := samples{}
		for range cfg.Reps {
			for _, p := range paths {
				if err := timeit(round, "prove+verify 2^"+fmt.Sprint(cfg.Log2)+" "+p.name, p.prove); err != nil {
					return nil, err
				}
			}
		}
		for range 10 * cfg.Reps {
			for _, p := range paths {
				if err := timeit(round, "verify "+p.name, p.verify); err != nil {
					return nil, err
				}
			}
		}
		pl, pj := round.median("prove+verify 2^"+fmt.Sprint(cfg.Log2)+" local"), round.median("prove+verify 2^"+fmt.Sprint(cfg.Log2)+" jetstream")
		vl, vj := round.median("verify local"), round.median("verify jetstream")
		proveRatio, verifyRatio = append(proveRatio, pj/pl), append(verifyRatio, vj/vl)
		proveOver, verifyOver = append(proveOver, pj-pl), append(verifyOver, vj-vl)
		for c, d := range round {
			s[c] = append(s[c], d...)
		}
	}
	rep.spread("jetstream_over_local_per_job", proveRatio)
	rep.spread("jetstream_over_local_verify", verifyRatio)
	rep.spread("jetstream_overhead_ms_per_job", proveOver)
	rep.spread("jetstream_overhead_ms_verify", verifyOver)
	order := []string{}
	for _, op := range []string{"prove+verify 2^" + fmt.Sprint(cfg.Log2), "verify"} {
		for _, p := range paths {
			order = append(order, op+" "+p.name)
		}
	}
	rep.addRows(s, order)

	// An artifact (the proving key) fetched cold from the object store, and
	// got again from the cache's memory and, after a reopen, its disk.
	progress("bench queue: artifact fetch, cold vs cached (%.1f MiB proving key)", float64(len(fx.pkA.Data))/(1<<20))
	src := natsq.BucketSource(client)
	fetch := samples{}
	for i := range cfg.Rounds {
		dir := fmt.Sprintf("%s/fetch-%d", tmp, i)
		c, err := artcache.Open(artcache.Options{Dir: dir})
		if err != nil {
			return nil, err
		}
		for _, step := range []string{"artifact cold (object store)", "artifact cached (memory)"} {
			if err := timeit(fetch, step, func() error { _, err := c.Get(ctx, fx.pkA.Digest, src); return err }); err != nil {
				return nil, err
			}
		}
		reopened, err := artcache.Open(artcache.Options{Dir: dir})
		if err != nil {
			return nil, err
		}
		if err := timeit(fetch, "artifact cached (disk)", func() error { _, err := reopened.Get(ctx, fx.pkA.Digest, src); return err }); err != nil {
			return nil, err
		}
	}
	fetchOrder := []string{"artifact cold (object store)", "artifact cached (memory)", "artifact cached (disk)"}
	rep.addRows(fetch, fetchOrder)
	for i := range rep.Rows {
		if rep.Rows[i].Case == fetchOrder[0] {
			rep.Rows[i].Bytes = int64(len(fx.pkA.Data))
		}
	}
	rep.ratio("artifact_cold_over_disk", fetch, fetchOrder[0], fetchOrder[2])
	rep.ratio("artifact_cold_over_memory", fetch, fetchOrder[0], fetchOrder[1])
	return rep, nil
}

package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/backend/groth16"
	"github.com/consensys/gnark/backend/witness"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/engine"
	"github.com/proofd/proofd/engine/pool"
	"github.com/proofd/proofd/engine/snarkclient"
	"github.com/proofd/proofd/examples/circuits"
)

// PoolConfig configures the pool benchmark.
type PoolConfig struct {
	// Spawn starts an engine process (proofd engine serve).
	Spawn engine.SpawnOptions
	// Quick shrinks every count, for tests.
	Quick bool
	// Progress receives one line per phase; nil for none.
	Progress io.Writer
}

// Pool measures verifications through (a) gnark in this process, (b) a
// fresh engine per call, (c) a pool of 2 engines: per-call latency with one
// caller, and throughput with 2 concurrent callers. Then a mix of three
// circuits on engines that each hold two verifying keys: a pool with
// affinity, a pool told nothing (every call of a single caller lands on the
// first idle engine), and plain round-robin over two engines.
//
// Every comparison runs in rounds (A B A B … within a round); a ratio is
// computed per round and reported as the median over rounds with its
// smallest and largest round (name_min, name_max).
//
// The in-process baseline starts, like the engines, from proof and public
// witness bytes (decoding them is part of verifying a proof you were sent);
// the verifying key is decoded once, as an engine keeps it resident.
func Pool(ctx context.Context, cfg PoolConfig) (*Report, error) {
	progress := func(format string, args ...any) {
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, format+"\n", args...)
		}
	}
	rounds, latencyReps, throughputN, freshN, mixReps := 5, 80, 200, 20, 60
	if cfg.Quick {
		rounds, latencyReps, throughputN, freshN, mixReps = 1, 10, 20, 4, 12
	}
	rep := newReport("pool")
	s := samples{}

	fxs := make([]*verifyFixture, 3)
	for i, size := range []int{2, 3, 4} {
		fx, err := newVerifyFixture(size)
		if err != nil {
			return nil, err
		}
		fxs[i] = fx
	}
	fx := fxs[0]
	start := func(extra ...string) func(context.Context) (*engine.Conn, error) {
		opts := cfg.Spawn
		opts.Args = append(slices.Clone(opts.Args), extra...)
		return func(ctx context.Context) (*engine.Conn, error) { return engine.Spawn(ctx, opts) }
	}
	pooled, err := pool.New(pool.Config{PoolSize: 2, Start: start()})
	if err != nil {
		return nil, err
	}
	defer pooled.Close(context.Background())
	fresh, err := pool.New(pool.Config{Start: start()})
	if err != nil {
		return nil, err
	}
	defer fresh.Close(context.Background())
	viaEngine := func(f *pool.Factory, fx *verifyFixture, affinity bool) func() error {
		var aff []artifact.Digest
		if affinity {
			aff = []artifact.Digest{fx.vk.Digest}
		}
		return func() error {
			return f.Do(ctx, aff, func(c *engine.Conn) error { return fx.verifyOn(ctx, c) })
		}
	}
	// Start the pool and make the key resident in both engines.
	if _, err := concurrently(2, 4, viaEngine(pooled, fx, true)); err != nil {
		return nil, err
	}

	var latency, tputInproc, tputFresh []float64
	tput := map[string][]float64{}
	for r := range rounds {
		progress("bench pool: round %d/%d: per-call verify latency x%d, throughput with 2 callers", r+1, rounds, latencyReps)
		rs := samples{}
		for range latencyReps {
			if err := timeit(rs, "verify inprocess", fx.verifyInProcess); err != nil {
				return nil, err
			}
			if err := timeit(rs, "verify pooled", viaEngine(pooled, fx, true)); err != nil {
				return nil, err
			}
		}
		latency = append(latency, rs.median("verify pooled")/rs.median("verify inprocess"))
		for _, c := range []struct {
			name string
			n    int
			fn   func() error
		}{
			{"throughput inprocess", throughputN, fx.verifyInProcess},
			{"throughput fresh", freshN, viaEngine(fresh, fx, true)},
			{"throughput pooled", throughputN, viaEngine(pooled, fx, true)},
		} {
			d, err := concurrently(2, c.n, c.fn)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", c.name, err)
			}
			rs[c.name] = append(rs[c.name], d/time.Duration(c.n)) // time per verification
			tput[c.name] = append(tput[c.name], float64(c.n)/d.Seconds())
		}
		// Throughput ratios are inverse per-verification time ratios.
		tputInproc = append(tputInproc, rs.median("throughput inprocess")/rs.median("throughput pooled"))
		tputFresh = append(tputFresh, rs.median("throughput fresh")/rs.median("throughput pooled"))
		for c, d := range rs {
			s[c] = append(s[c], d...)
		}
	}
	rep.spread("pooled_over_inprocess_verify", latency)
	rep.spread("pooled_over_inprocess_throughput", tputInproc)
	rep.spread("pooled_over_fresh_throughput", tputFresh)
	for name, v := range tput {
		rep.Ratios[name+"_per_s"] = round3(median(v))
	}

	mixNone, mixRR, err := mix(ctx, start("--max-resident-bytes", mixBudget), fxs, rounds, mixReps, s, viaEngine, progress)
	if err != nil {
		return nil, err
	}
	rep.spread("mix_none_over_affinity_latency", mixNone)
	rep.spread("mix_roundrobin_over_affinity_latency", mixRR)
	rep.addRows(s, []string{"verify inprocess", "verify pooled", "throughput inprocess", "throughput fresh", "throughput pooled", "mix affinity", "mix none", "mix roundrobin"})
	return rep, nil
}

// mixBudget is an engine budget that holds two of the mix's three verifying
// keys but not three: each is ~360 bytes and ~1500 decoded, and the budget
// counts both.
const mixBudget = "4000"

// mix cycles three circuits through engines that each hold two of their
// keys, one caller at a time: a pool with affinity, a pool told nothing
// (every call lands on the first idle engine), and round-robin over two
// engines. It returns, per round, the latency of none and of round-robin
// over that of affinity.
func mix(ctx context.Context, start func(context.Context) (*engine.Conn, error), fxs []*verifyFixture, rounds, reps int, s samples,
	viaEngine func(*pool.Factory, *verifyFixture, bool) func() error, progress func(string, ...any),
) (none, rr []float64, err error) {
	withAff, err := pool.New(pool.Config{PoolSize: 2, Start: start})
	if err != nil {
		return nil, nil, err
	}
	defer withAff.Close(context.Background())
	without, err := pool.New(pool.Config{PoolSize: 2, Start: start})
	if err != nil {
		return nil, nil, err
	}
	defer without.Close(context.Background())
	var robin [2]*engine.Conn
	for i := range robin {
		if robin[i], err = start(ctx); err != nil {
			return nil, nil, err
		}
		defer robin[i].Close()
	}
	for r := range rounds {
		progress("bench pool: round %d/%d: three circuits, engines holding two keys each x%d", r+1, rounds, reps)
		rs := samples{}
		for i := range reps {
			fx := fxs[i%3]
			if err := timeit(rs, "mix affinity", viaEngine(withAff, fx, true)); err != nil {
				return nil, nil, err
			}
			if err := timeit(rs, "mix none", viaEngine(without, fx, false)); err != nil {
				return nil, nil, err
			}
			if err := timeit(rs, "mix roundrobin", func() error { return fx.verifyOn(ctx, robin[i%2]) }); err != nil {
				return nil, nil, err
			}
		}
		none = append(none, rs.median("mix none")/rs.median("mix affinity"))
		rr = append(rr, rs.median("mix roundrobin")/rs.median("mix affinity"))
		for c, d := range rs {
			s[c] = append(s[c], d...)
		}
	}
	return none, rr, nil
}

// concurrently runs fn n times over k goroutines and returns the wall time.
func concurrently(k, n int, fn func() error) (time.Duration, error) {
	jobs := make(chan struct{}, n)
	for range n {
		jobs <- struct{}{}
	}
	close(jobs)
	var wg sync.WaitGroup
	errs := make([]error, k)
	start := time.Now()
	for i := range k {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				if err := fn(); err != nil {
					errs[i] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	d := time.Since(start)
	for _, err := range errs {
		if err != nil {
			return d, err
		}
	}
	return d, nil
}

// verifyFixture is a Groth16 BN254 proof with its verifying key.
type verifyFixture struct {
	vkObj         groth16.VerifyingKey
	vk            artifact.Artifact
	proof, public []byte
}

func newVerifyFixture(size int) (*verifyFixture, error) {
	ex, err := circuits.Build("mimc", size, ecc.BN254, snarkclient.Groth16)
	if err != nil {
		return nil, err
	}
	pk, vk, err := groth16.Setup(ex.CCS)
	if err != nil {
		return nil, err
	}
	proof, err := groth16.Prove(ex.CCS, pk, ex.Witness)
	if err != nil {
		return nil, err
	}
	var vkb, pb bytes.Buffer
	if _, err := vk.WriteTo(&vkb); err != nil {
		return nil, err
	}
	if _, err := proof.WriteTo(&pb); err != nil {
		return nil, err
	}
	pub, err := ex.Public.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return &verifyFixture{vkObj: vk, vk: artifact.New(vkb.Bytes()), proof: pb.Bytes(), public: pub}, nil
}

// verifyInProcess is what a Go program with gnark does with proof bytes.
func (fx *verifyFixture) verifyInProcess() error {
	proof := groth16.NewProof(ecc.BN254)
	if _, err := proof.ReadFrom(bytes.NewReader(fx.proof)); err != nil {
		return err
	}
	pub, err := witness.New(ecc.BN254.ScalarField())
	if err != nil {
		return err
	}
	if err := pub.UnmarshalBinary(fx.public); err != nil {
		return err
	}
	return groth16.Verify(proof, fx.vkObj, pub)
}

func (fx *verifyFixture) verifyOn(ctx context.Context, c *engine.Conn) error {
	res, err := snarkclient.New(c).Verify(ctx, snarkclient.VerifyRequest{VK: fx.vk, Proof: fx.proof, Public: fx.public})
	if err != nil {
		return err
	}
	if !res.Valid {
		return fmt.Errorf("engine judged a valid proof invalid: %s", res.Reason)
	}
	return nil
}

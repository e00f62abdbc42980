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
// fresh engine per call, (c) a pool of 2 engines: per-call latency and
// throughput with 2 concurrent callers. Then a mix of three circuits on a
// pool whose engines each hold two verifying keys, with and without
// affinity.
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
	latencyReps, throughputN, freshN, rounds, mixReps := 200, 400, 40, 3, 150
	if cfg.Quick {
		latencyReps, throughputN, freshN, rounds, mixReps = 10, 20, 4, 1, 12
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
	pool, err := engine.NewFactory(engine.FactoryConfig{PoolSize: 2, Start: start()})
	if err != nil {
		return nil, err
	}
	defer pool.Close(context.Background())
	fresh, err := engine.NewFactory(engine.FactoryConfig{Start: start()})
	if err != nil {
		return nil, err
	}
	defer fresh.Close(context.Background())
	viaEngine := func(f *engine.Factory, fx *verifyFixture, affinity bool) func() error {
		var aff []artifact.Digest
		if affinity {
			aff = []artifact.Digest{fx.vk.Digest}
		}
		return func() error {
			return f.Do(ctx, aff, func(c *engine.Conn) error { return fx.verifyOn(ctx, c) })
		}
	}
	if err := viaEngine(pool, fx, true)(); err != nil { // start the pool, make the key resident
		return nil, err
	}

	progress("bench pool: per-call verify latency x%d", latencyReps)
	for range latencyReps {
		if err := timeit(s, "verify inprocess", fx.verifyInProcess); err != nil {
			return nil, err
		}
		if err := timeit(s, "verify pooled", viaEngine(pool, fx, true)); err != nil {
			return nil, err
		}
	}
	rep.ratio("pooled_over_inprocess_verify", s, "verify pooled", "verify inprocess")

	progress("bench pool: throughput, 2 callers, %d rounds", rounds)
	tput := map[string][]float64{}
	for range rounds {
		for _, c := range []struct {
			name string
			n    int
			fn   func() error
		}{
			{"throughput inprocess", throughputN, fx.verifyInProcess},
			{"throughput fresh", freshN, viaEngine(fresh, fx, true)},
			{"throughput pooled", throughputN, viaEngine(pool, fx, true)},
		} {
			d, err := concurrently(2, c.n, c.fn)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", c.name, err)
			}
			s[c.name] = append(s[c.name], d/time.Duration(c.n)) // time per verification
			tput[c.name] = append(tput[c.name], float64(c.n)/d.Seconds())
		}
	}
	// Throughput ratios are inverse per-verification time ratios.
	rep.ratio("pooled_over_fresh_throughput", s, "throughput fresh", "throughput pooled")
	rep.ratio("pooled_over_inprocess_throughput", s, "throughput inprocess", "throughput pooled")
	for name, v := range tput {
		rep.Ratios[name+"_per_s"] = round3(median(v))
	}

	progress("bench pool: three circuits, engines holding two keys each, affinity vs none x%d", mixReps)
	// Three Groth16 BN254 verifying keys, each ~360 bytes and ~1500 decoded
	// (the budget counts both); 4000 bytes holds two.
	small := start("--max-resident-bytes", "4000")
	withAff, err := engine.NewFactory(engine.FactoryConfig{PoolSize: 2, Start: small})
	if err != nil {
		return nil, err
	}
	defer withAff.Close(context.Background())
	without, err := engine.NewFactory(engine.FactoryConfig{PoolSize: 2, Start: small})
	if err != nil {
		return nil, err
	}
	defer without.Close(context.Background())
	for i := range mixReps {
		fx := fxs[i%3]
		if err := timeit(s, "mix affinity", viaEngine(withAff, fx, true)); err != nil {
			return nil, err
		}
		if err := timeit(s, "mix none", viaEngine(without, fx, false)); err != nil {
			return nil, err
		}
	}
	rep.ratio("affinity_over_none_throughput", s, "mix none", "mix affinity")
	rep.addRows(s, []string{"verify inprocess", "verify pooled", "throughput inprocess", "throughput fresh", "throughput pooled", "mix affinity", "mix none"})
	return rep, nil
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

func median(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	return v[len(v)/2]
}

// verifyFixture is a Groth16 BN254 proof with its verifying key.
type verifyFixture struct {
	vkObj         groth16.VerifyingKey
	vk            artifact.Artifact
	proof, public []byte
}

func newVerifyFixture(size int) (*verifyFixture, error) {
	ex, err := circuits.Build("mimc", size, ecc.BN254, engine.Groth16)
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
	res, err := c.Verify(ctx, engine.VerifyRequest{VK: fx.vk, Proof: fx.proof, Public: fx.public})
	if err != nil {
		return err
	}
	if !res.Valid {
		return fmt.Errorf("engine judged a valid proof invalid: %s", res.Reason)
	}
	return nil
}

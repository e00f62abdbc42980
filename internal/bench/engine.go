package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/backend/groth16"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/engine"
	"github.com/proofd/proofd/engine/snarkclient"
	"github.com/proofd/proofd/examples/circuits"
)

// EngineConfig configures the engine benchmark.
type EngineConfig struct {
	// Spawn starts an engine process (proofd engine serve).
	Spawn engine.SpawnOptions
	// Reps overrides the repetitions per case.
	Reps int
	// Quick uses 2^8 and 2^10 constraint circuits, for tests.
	Quick bool
	// Progress receives one line per phase; nil for none.
	Progress io.Writer
}

// Engine measures Groth16 prove and verify on BN254 MiMC chains of about
// 2^12 and 2^16 constraints through (a) gnark called in this process with
// everything decoded (the baseline), (b) a fresh engine process per call,
// (c) a warm engine with the circuit and keys resident.
func Engine(ctx context.Context, cfg EngineConfig) (*Report, error) {
	logs := []int{12, 16}
	if cfg.Quick {
		logs = []int{8, 10}
	}
	progress := func(format string, args ...any) {
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, format+"\n", args...)
		}
	}
	rep := newReport("engine")
	s := samples{}
	var order []string
	for _, lg := range logs {
		tag := fmt.Sprintf("2^%d", lg)
		in := func(op, mode string) string { return fmt.Sprintf("%s %s %s", op, tag, mode) }
		for _, op := range []string{"prove", "verify"} {
			for _, mode := range []string{"inprocess", "fresh", "warm"} {
				order = append(order, in(op, mode))
			}
		}
		progress("bench engine: %s: building and setting up the circuit", tag)
		fx, err := newEngineFixture(lg)
		if err != nil {
			return nil, err
		}
		warm, err := engine.Spawn(ctx, cfg.Spawn)
		if err != nil {
			return nil, err
		}
		err = func() error {
			// One call each to upload and decode: "warm" means resident.
			if _, err := fx.prove(ctx, warm); err != nil {
				return err
			}
			if err := fx.verify(ctx, warm); err != nil {
				return err
			}
			proveReps, verifyReps, freshVerifyReps := 10, 40, 10
			if lg >= 16 {
				proveReps = 5
			}
			if cfg.Reps > 0 {
				proveReps, verifyReps, freshVerifyReps = cfg.Reps, cfg.Reps, cfg.Reps
			}
			progress("bench engine: %s: prove x%d per mode", tag, proveReps)
			for range proveReps {
				if err := timeit(s, in("prove", "inprocess"), fx.proveInProcess); err != nil {
					return err
				}
				if err := timeit(s, in("prove", "fresh"), func() error {
					return fresh(ctx, cfg.Spawn, func(c *engine.Conn) error { _, err := fx.prove(ctx, c); return err })
				}); err != nil {
					return err
				}
				if err := timeit(s, in("prove", "warm"), func() error { _, err := fx.prove(ctx, warm); return err }); err != nil {
					return err
				}
			}
			progress("bench engine: %s: verify x%d per mode (fresh x%d)", tag, verifyReps, freshVerifyReps)
			// Fresh engines are slow, so fewer of them are timed, spread evenly
			// over the run rather than bunched at its start.
			freshEvery := max(1, verifyReps/max(1, freshVerifyReps))
			for i := range verifyReps {
				if err := timeit(s, in("verify", "inprocess"), fx.verifyInProcess); err != nil {
					return err
				}
				if i%freshEvery == 0 && i/freshEvery < freshVerifyReps {
					if err := timeit(s, in("verify", "fresh"), func() error { return fresh(ctx, cfg.Spawn, func(c *engine.Conn) error { return fx.verify(ctx, c) }) }); err != nil {
						return err
					}
				}
				if err := timeit(s, in("verify", "warm"), func() error { return fx.verify(ctx, warm) }); err != nil {
					return err
				}
			}
			return nil
		}()
		if cerr := warm.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, err
		}
		rep.ratio("warm_over_inprocess_prove_"+tag, s, in("prove", "warm"), in("prove", "inprocess"))
		rep.ratio("warm_over_inprocess_verify_"+tag, s, in("verify", "warm"), in("verify", "inprocess"))
		rep.ratio("fresh_over_inprocess_verify_"+tag, s, in("verify", "fresh"), in("verify", "inprocess"))
		rep.ratio("fresh_over_inprocess_prove_"+tag, s, in("prove", "fresh"), in("prove", "inprocess"))
	}
	big := fmt.Sprintf("2^%d", logs[len(logs)-1])
	rep.Ratios["warm_over_inprocess_prove"] = rep.Ratios["warm_over_inprocess_prove_"+big]
	rep.Ratios["warm_over_inprocess_verify"] = rep.Ratios["warm_over_inprocess_verify_"+big]
	rep.Ratios["fresh_over_inprocess_verify"] = rep.Ratios["fresh_over_inprocess_verify_"+big]
	rep.addRows(s, order)
	return rep, nil
}

func timeit(s samples, name string, fn func() error) error {
	start := time.Now()
	if err := fn(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	s[name] = append(s[name], time.Since(start))
	return nil
}

// fresh runs fn on a new engine process and stops it: the cost of the
// spawn-per-call model.
func fresh(ctx context.Context, opts engine.SpawnOptions, fn func(*engine.Conn) error) error {
	c, err := engine.Spawn(ctx, opts)
	if err != nil {
		return err
	}
	err = fn(c)
	if cerr := c.Close(); err == nil {
		err = cerr
	}
	return err
}

// engineFixture is one circuit with keys, decoded for gnark and encoded for
// the engine.
type engineFixture struct {
	ex    *circuits.Example
	pk    groth16.ProvingKey
	vk    groth16.VerifyingKey
	proof groth16.Proof

	ccsA, pkA, vkA      artifact.Artifact
	wit, proofB, public []byte
}

func newEngineFixture(log2 int) (*engineFixture, error) {
	ex, err := circuits.Build("mimc", circuits.SizeForConstraints(ecc.BN254, 1<<log2), ecc.BN254, snarkclient.Groth16)
	if err != nil {
		return nil, err
	}
	pk, vk, err := groth16.Setup(ex.CCS)
	if err != nil {
		return nil, err
	}
	fx := &engineFixture{ex: ex, pk: pk, vk: vk}
	var ccs, pkb, vkb, proofb bytes.Buffer
	if _, err := ex.CCS.WriteTo(&ccs); err != nil {
		return nil, err
	}
	if _, err := pk.WriteRawTo(&pkb); err != nil {
		return nil, err
	}
	if _, err := vk.WriteTo(&vkb); err != nil {
		return nil, err
	}
	fx.ccsA, fx.pkA, fx.vkA = artifact.New(ccs.Bytes()), artifact.New(pkb.Bytes()), artifact.New(vkb.Bytes())
	if fx.wit, err = ex.Witness.MarshalBinary(); err != nil {
		return nil, err
	}
	if fx.public, err = ex.Public.MarshalBinary(); err != nil {
		return nil, err
	}
	if fx.proof, err = groth16.Prove(ex.CCS, pk, ex.Witness); err != nil {
		return nil, err
	}
	if _, err := fx.proof.WriteTo(&proofb); err != nil {
		return nil, err
	}
	fx.proofB = proofb.Bytes()
	return fx, nil
}

func (fx *engineFixture) proveInProcess() error {
	_, err := groth16.Prove(fx.ex.CCS, fx.pk, fx.ex.Witness)
	return err
}

func (fx *engineFixture) verifyInProcess() error {
	return groth16.Verify(fx.proof, fx.vk, fx.ex.Public)
}

func (fx *engineFixture) prove(ctx context.Context, c *engine.Conn) (*snarkclient.ProveResult, error) {
	return snarkclient.New(c).Prove(ctx, snarkclient.ProveRequest{Name: "bench", CCS: fx.ccsA, PK: fx.pkA, Witness: fx.wit})
}

func (fx *engineFixture) verify(ctx context.Context, c *engine.Conn) error {
	res, err := snarkclient.New(c).Verify(ctx, snarkclient.VerifyRequest{Name: "bench", VK: fx.vkA, Proof: fx.proofB, Public: fx.public})
	if err != nil {
		return err
	}
	if !res.Valid {
		return fmt.Errorf("engine says the proof is invalid: %s", res.Reason)
	}
	return nil
}

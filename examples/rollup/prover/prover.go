package prover

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/backend/groth16"
	"github.com/consensys/gnark/backend/witness"
	"github.com/consensys/gnark/constraint"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/engine"
	"github.com/proofd/proofd/engine/pool"
	"github.com/proofd/proofd/engine/snarkclient"
	"github.com/proofd/proofd/examples/rollup"
	"github.com/proofd/proofd/keycache"
	"github.com/proofd/proofd/pipeline"
	"github.com/proofd/proofd/queue"
	"github.com/proofd/proofd/receipts"
)

// Pool runs a call on a pooled engine, preferring one that holds affinity
// (pool.Factory).
type Pool = queue.Pool

// Queue runs the prover's proofs and verifications: queue.Local on this
// machine's pool, or natsq.Client on workers through NATS JetStream. This
// is the queue seam: nothing else changes between one machine and many.
type Queue interface {
	Prove(ctx context.Context, j queue.Prove) (*queue.Proved, error)
	Verify(ctx context.Context, j queue.Verify) (*engine.VerifyResult, error)
}

// Profiles: which proof ends the chain.
const (
	// ProfileDefault: the aggregate stage is rollup's aggregate circuit
	// (BN254) binding BundleSize batch proofs by digest; every proof is
	// made and checked natively.
	ProfileDefault = "default"
	// ProfileEVM: the aggregate stage is rollup's wrap circuit (BN254)
	// verifying the block's one batch proof in-circuit (BundleSize must be
	// 1), its proofs made for gnark's Solidity verifier. Tx proofs are made
	// for the BW6-761 batch circuit, batch proofs for the BN254 wrapper.
	ProfileEVM = "evm"
)

// CheckProfile reports a profile New would refuse for p (defaults
// applied): an unknown name, or the evm profile with a BundleSize other
// than 1.
func CheckProfile(profile string, p rollup.Params) error {
	p.EnsureDefaults()
	switch profile {
	case "", ProfileDefault:
		return nil
	case ProfileEVM:
		if p.BundleSize != 1 {
			return fmt.Errorf("rollup prover: profile %s settles each block on its own: BundleSize must be 1, not %d", ProfileEVM, p.BundleSize)
		}
		return nil
	}
	return fmt.Errorf("rollup prover: profile %q: want %s or %s", profile, ProfileDefault, ProfileEVM)
}

// Config configures New.
type Config struct {
	Params rollup.Params
	// Profile is ProfileDefault (also the empty string) or ProfileEVM.
	Profile string
	// Pool runs setup when a stage's keys are not in Keys, and, unless
	// Queue is set, every proof and verification.
	Pool Pool
	// Queue, when set, runs proofs and verifications instead of Pool.
	Queue Queue
	// Class names the resource class of each stage's proofs (indexed by
	// pipeline.Stage); empty is queue.DefaultClass. Only a queue across
	// hosts reads it.
	Class  [3]string
	Keys   *keycache.Cache
	Logger *slog.Logger
	// Ready, when set, is told as each stage's circuit and keys are ready.
	Ready func(StageSetup)
}

// StageSetup is how one stage's circuit and keys were made ready.
type StageSetup struct {
	Stage       pipeline.Stage
	Curve       ecc.ID
	Constraints int
	Compile     time.Duration
	Setup       time.Duration // zero when the keys came from the cache
	Cached      bool
}

type stage struct {
	name   string
	kind   receipts.Kind
	ccs    artifact.Artifact
	pk, vk artifact.Artifact
	image  [32]byte
	// target is where the stage's proofs are verified
	// (snarkclient.ProveRequest.Target): they are made and checked for it.
	target string
}

// Prover proves the rollup's stages on a pool.
type Prover struct {
	p       rollup.Params
	profile string
	queue   Queue
	class   [3]string
	stages  [3]stage
	log     *slog.Logger
}

// New compiles the circuits and readies their keys (see the package doc).
func New(ctx context.Context, cfg Config) (*Prover, []StageSetup, error) {
	cfg.Params.EnsureDefaults()
	if err := cfg.Params.Validate(); err != nil {
		return nil, nil, err
	}
	if cfg.Pool == nil || cfg.Keys == nil {
		return nil, nil, errors.New("rollup prover: Pool and Keys are required")
	}
	if err := CheckProfile(cfg.Profile, cfg.Params); err != nil {
		return nil, nil, err
	}
	if cfg.Profile == "" {
		cfg.Profile = ProfileDefault
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Queue == nil {
		cfg.Queue = queue.Local{Pool: cfg.Pool}
	}
	pr := &Prover{p: cfg.Params, profile: cfg.Profile, queue: cfg.Queue, class: cfg.Class, log: cfg.Logger}
	evmProfile := cfg.Profile == ProfileEVM
	var setups []StageSetup

	ready := func(st pipeline.Stage, curve ecc.ID, target string, compile func() (constraint.ConstraintSystem, error)) error {
		start := time.Now()
		cs, err := compile()
		if err != nil {
			return fmt.Errorf("rollup prover: compile the %s circuit: %w", st, err)
		}
		var buf bytes.Buffer
		if _, err := cs.WriteTo(&buf); err != nil {
			return fmt.Errorf("rollup prover: write the %s circuit: %w", st, err)
		}
		s := StageSetup{Stage: st, Curve: curve, Constraints: cs.GetNbConstraints(), Compile: time.Since(start)}
		name := "rollup-" + st.String()
		if evmProfile && st == pipeline.StageAggregate {
			name = "rollup-wrap"
		}
		stg := stage{name: name, kind: receipts.Kind(st) + receipts.KindTx, ccs: artifact.New(buf.Bytes()), target: target}
		id := keycache.ID{CCS: stg.ccs.Digest, Scheme: snarkclient.Groth16}
		keys, ok, err := cfg.Keys.Get(id)
		if err != nil {
			cfg.Logger.Warn("cached keys unusable; running setup again", "stage", st.String(), "err", err)
			ok = false
		}
		if !ok {
			start := time.Now()
			err := cfg.Pool.DoLease(ctx, []artifact.Digest{stg.ccs.Digest}, func(l *pool.Lease) error {
				res, err := snarkclient.New(l.Conn).Setup(ctx, snarkclient.SetupRequest{Name: stg.name, CCS: stg.ccs, Scheme: snarkclient.Groth16})
				if err != nil {
					return err
				}
				l.Holds(res.PK.Digest, res.VK.Digest)
				keys = keycache.Keys{PK: res.PK, VK: res.VK}
				return nil
			})
			if err != nil {
				return fmt.Errorf("rollup prover: setup of the %s circuit: %w", st, err)
			}
			s.Setup = time.Since(start)
			if err := cfg.Keys.Put(id, keys); err != nil {
				return err
			}
		}
		s.Cached = ok
		stg.pk, stg.vk = keys.PK, keys.VK
		h := sha256.New()
		h.Write([]byte("proofd/image/v1"))
		h.Write(stg.ccs.Digest[:])
		h.Write(stg.vk.Digest[:])
		if target != snarkclient.TargetNative {
			// A proof made for another target is another proof: it does not
			// verify natively (commitments), so it must not share a receipt
			// key with a native one. Native images are unchanged.
			h.Write([]byte("target/" + target))
		}
		copy(stg.image[:], h.Sum(nil))
		pr.stages[st] = stg
		setups = append(setups, s)
		if cfg.Ready != nil {
			cfg.Ready(s)
		}
		cfg.Logger.Info("circuit ready", "stage", st.String(), "circuit", stg.name, "target", target, "constraints", s.Constraints, "compile", s.Compile, "setup", s.Setup, "cached", s.Cached)
		return nil
	}
	p := cfg.Params
	txTarget, batchTarget := snarkclient.TargetNative, snarkclient.TargetNative
	if evmProfile {
		txTarget, batchTarget = snarkclient.TargetBW6761, snarkclient.TargetBN254
	}
	if err := ready(pipeline.StageTx, ecc.BLS12_377, txTarget, func() (constraint.ConstraintSystem, error) { return rollup.CompileTx(p) }); err != nil {
		return nil, nil, err
	}
	txVK := groth16.NewVerifyingKey(ecc.BLS12_377)
	if _, err := txVK.ReadFrom(bytes.NewReader(pr.stages[pipeline.StageTx].vk.Data)); err != nil {
		return nil, nil, fmt.Errorf("rollup prover: read the tx verifying key: %w", err)
	}
	if err := ready(pipeline.StageBatch, ecc.BW6_761, batchTarget, func() (constraint.ConstraintSystem, error) { return rollup.CompileBatch(p, txVK) }); err != nil {
		return nil, nil, err
	}
	if evmProfile {
		batchVK := groth16.NewVerifyingKey(ecc.BW6_761)
		if _, err := batchVK.ReadFrom(bytes.NewReader(pr.stages[pipeline.StageBatch].vk.Data)); err != nil {
			return nil, nil, fmt.Errorf("rollup prover: read the batch verifying key: %w", err)
		}
		if err := ready(pipeline.StageAggregate, ecc.BN254, snarkclient.TargetSolidity, func() (constraint.ConstraintSystem, error) { return rollup.CompileWrap(p, batchVK) }); err != nil {
			return nil, nil, err
		}
		return pr, setups, nil
	}
	if err := ready(pipeline.StageAggregate, ecc.BN254, snarkclient.TargetNative, func() (constraint.ConstraintSystem, error) { return rollup.CompileAggregate(p) }); err != nil {
		return nil, nil, err
	}
	return pr, setups, nil
}

// Params are the rollup parameters the circuits were built for.
func (pr *Prover) Params() rollup.Params { return pr.p }

// Profile is ProfileDefault or ProfileEVM.
func (pr *Prover) Profile() string { return pr.profile }

// VK is a stage's verifying key.
func (pr *Prover) VK(st pipeline.Stage) artifact.Artifact { return pr.stages[st].vk }

// Circuits names each stage's artifacts: the digests of its constraint
// system, proving key and verifying key, each mapped to the stage (tx,
// batch, aggregate). A status page uses it to say which circuits an engine
// holds.
func (pr *Prover) Circuits() map[artifact.Digest]string {
	m := make(map[artifact.Digest]string, 3*len(pr.stages))
	for i, st := range pr.stages {
		for _, a := range []artifact.Artifact{st.ccs, st.pk, st.vk} {
			m[a.Digest] = pipeline.Stage(i).String()
		}
	}
	return m
}

// Target is where a stage's proofs are verified (snarkclient's target
// names): in the evm profile the aggregate stage's, the wrapper's, are for
// the Solidity verifier exported from VK(StageAggregate).
func (pr *Prover) Target(st pipeline.Stage) string { return pr.stages[st].target }

func permanent(err error) error { return fmt.Errorf("%w: %w", pipeline.ErrPermanent, err) }

func decodeBlock(w pipeline.Work, payload []byte) (*rollup.Block, error) {
	var b rollup.Block
	if err := b.UnmarshalBinary(payload); err != nil {
		return nil, permanent(fmt.Errorf("%s: block payload: %w", w.Job, err))
	}
	return &b, nil
}

func (pr *Prover) refs(w pipeline.Work) ([]rollup.BatchRef, error) {
	refs := make([]rollup.BatchRef, 0, len(w.Inputs))
	for _, in := range w.Inputs {
		b, err := decodeBlock(w, in.Payload)
		if err != nil {
			return nil, err
		}
		refs = append(refs, rollup.BatchRef{Height: b.Height, PrevRoot: b.PrevRoot(), Root: b.Root(), Proof: in.Receipt.Proof})
	}
	return refs, nil
}

// Key names the job's receipt.
func (pr *Prover) Key(w pipeline.Work) (receipts.Key, error) {
	st := pr.stages[w.Job.Stage]
	k := receipts.Key{Checkpoint: w.Job.Height, Block: w.Job.Block, Kind: st.kind, Image: st.image, Index: uint64(w.Job.Index)}
	b, err := decodeBlock(w, w.Payload)
	if err != nil {
		return k, err
	}
	switch w.Job.Stage {
	case pipeline.StageTx:
		if w.Job.Index >= len(b.Txs) {
			return k, permanent(fmt.Errorf("%s: the block has %d transactions", w.Job, len(b.Txs)))
		}
		k.Statement = rollup.TxStatement(pr.p, &b.Txs[w.Job.Index])
	case pipeline.StageBatch:
		k.Statement = rollup.BatchStatement(pr.p, b)
	case pipeline.StageAggregate:
		refs, err := pr.refs(w)
		if err != nil {
			return k, err
		}
		if pr.profile == ProfileEVM {
			if len(refs) != 1 {
				return k, permanent(fmt.Errorf("%s: the wrap stage takes 1 batch proof, got %d", w.Job, len(refs)))
			}
			k.Statement = rollup.WrapStatement(pr.p, refs[0])
		} else {
			k.Statement = rollup.AggregateStatement(pr.p, refs)
		}
		k.Index = w.Job.Height // the bundle's end coordinate
	}
	return k, nil
}

// witness builds the job's full witness.
func (pr *Prover) witness(w pipeline.Work) ([]byte, error) {
	b, err := decodeBlock(w, w.Payload)
	if err != nil {
		return nil, err
	}
	var wit witness.Witness
	switch w.Job.Stage {
	case pipeline.StageTx:
		wit, err = rollup.TxWitness(pr.p, &b.Txs[w.Job.Index])
	case pipeline.StageBatch:
		proofs := make([][]byte, len(w.Inputs))
		for i, in := range w.Inputs {
			proofs[i] = in.Receipt.Proof
		}
		wit, err = rollup.BatchWitness(pr.p, b, proofs)
	case pipeline.StageAggregate:
		if pr.profile == ProfileEVM {
			wit, err = pr.wrapWitness(w)
			break
		}
		var refs []rollup.BatchRef
		if refs, err = pr.refs(w); err == nil {
			wit, err = rollup.AggregateWitness(pr.p, refs)
		}
	}
	if err != nil {
		return nil, permanent(fmt.Errorf("%s: witness: %w", w.Job, err))
	}
	data, err := wit.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("%s: witness: %w", w.Job, err)
	}
	return data, nil
}

// wrapWitness is the evm profile's aggregate-stage witness: the wrapper
// over the one batch proof of the bundle (BundleSize is 1).
func (pr *Prover) wrapWitness(w pipeline.Work) (witness.Witness, error) {
	if len(w.Inputs) != 1 {
		return nil, fmt.Errorf("the wrap stage takes 1 batch proof, got %d", len(w.Inputs))
	}
	b, err := decodeBlock(w, w.Inputs[0].Payload)
	if err != nil {
		return nil, err
	}
	return rollup.WrapWitness(pr.p, b, w.Inputs[0].Receipt.Proof)
}

// classify marks what retrying cannot fix.
func classify(err error) error {
	if queue.IsPermanent(err) {
		return permanent(err)
	}
	return err
}

// Prove makes the job's proof and verifies it where it was made, on the
// queue: the job is named by its receipt key.
func (pr *Prover) Prove(ctx context.Context, w pipeline.Work, k receipts.Key) (receipts.Receipt, error) {
	st := pr.stages[w.Job.Stage]
	wit, err := pr.witness(w)
	if err != nil {
		return receipts.Receipt{}, err
	}
	vk := st.vk
	res, err := pr.queue.Prove(ctx, queue.Prove{ID: k.String(), Attempt: max(w.Attempt, 1), Class: pr.class[w.Job.Stage],
		Name: st.name, CCS: st.ccs, PK: st.pk, VK: &vk, Witness: wit, Target: st.target})
	if err != nil {
		return receipts.Receipt{}, classify(fmt.Errorf("prove %s: %w", w.Job, err))
	}
	return receipts.Receipt{Proof: res.Proof, Public: res.Public}, nil
}

// Check verifies a stored receipt on the pool.
func (pr *Prover) Check(ctx context.Context, w pipeline.Work, _ receipts.Key, r receipts.Receipt) error {
	return pr.verify(ctx, pr.stages[w.Job.Stage], r)
}

// VerifySettlement verifies a published aggregate (Report.Settlement).
func (pr *Prover) VerifySettlement(ctx context.Context, in pipeline.Input) error {
	return pr.verify(ctx, pr.stages[pipeline.StageAggregate], in.Receipt)
}

func (pr *Prover) verify(ctx context.Context, st stage, r receipts.Receipt) error {
	res, err := pr.queue.Verify(ctx, queue.Verify{ID: queue.VerifyID(st.vk.Digest, r.Proof, r.Public, st.target), Attempt: 1,
		Name: st.name, VK: st.vk, Proof: r.Proof, Public: r.Public, Target: st.target})
	if err != nil {
		return classify(fmt.Errorf("verify: %w", err))
	}
	if !res.Valid {
		return fmt.Errorf("%s proof does not verify: %s", st.name, res.Reason)
	}
	return nil
}

package rollup

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"

	"github.com/consensys/gnark/backend/witness"
	"github.com/consensys/gnark/constraint"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/frontend/cs/r1cs"
	"github.com/consensys/gnark/std/hash/mimc"

	"github.com/proofd/proofd/examples/circuits"
)

// BatchRef is one published batch proof (bytes as gnark wrote them).
type BatchRef struct {
	Height         uint64
	PrevRoot, Root Root
	Proof          []byte
}

// aggregateCircuit binds a bundle of batches: their roots chain StartRoot to
// EndRoot and Commitment is MiMC over every (PrevRoot, Root, ProofDigest).
type aggregateCircuit struct {
	StartRoot  frontend.Variable `gnark:",public"`
	EndRoot    frontend.Variable `gnark:",public"`
	Commitment frontend.Variable `gnark:",public"`
	Batches    []batchLink
}

// batchLink is one batch as the aggregate sees it. Roots are BLS12-377
// scalars, below BN254's modulus, so they are BN254 elements unchanged.
type batchLink struct {
	PrevRoot, Root, ProofDigest frontend.Variable
}

func (c *aggregateCircuit) Define(api frontend.API) error {
	if len(c.Batches) == 0 {
		return fmt.Errorf("aggregate circuit without batches")
	}
	h, err := mimc.NewMiMC(api)
	if err != nil {
		return err
	}
	api.AssertIsEqual(c.Batches[0].PrevRoot, c.StartRoot)
	for i, b := range c.Batches {
		if i > 0 {
			api.AssertIsEqual(c.Batches[i-1].Root, b.PrevRoot)
		}
		h.Write(b.PrevRoot, b.Root, b.ProofDigest)
	}
	api.AssertIsEqual(c.Batches[len(c.Batches)-1].Root, c.EndRoot)
	api.AssertIsEqual(h.Sum(), c.Commitment)
	return nil
}

// CompileAggregate compiles the aggregate circuit on BN254 for bundles of
// p.BundleSize batches. Public inputs, in order: StartRoot, EndRoot,
// Commitment.
func CompileAggregate(p Params) (constraint.ConstraintSystem, error) {
	p, err := checked(p)
	if err != nil {
		return nil, err
	}
	c := &aggregateCircuit{Batches: make([]batchLink, p.BundleSize)}
	ccs, err := frontend.Compile(AggregateCurve.ScalarField(), r1cs.NewBuilder, c)
	if err != nil {
		return nil, fmt.Errorf("rollup: compile aggregate circuit: %w", err)
	}
	return ccs, nil
}

// ProofDigest is sha256(proof) truncated to its first 31 bytes, as a
// big-endian field element (so below every modulus used here); the result
// is that element in 32 big-endian bytes (the first is zero).
func ProofDigest(proof []byte) [32]byte {
	d := sha256.Sum256(proof)
	var out [32]byte
	copy(out[1:], d[:31])
	return out
}

// checkRefs reports every way refs is not a bundle: a wrong count,
// non-consecutive heights, roots that do not chain or are not canonical.
func checkRefs(p Params, refs []BatchRef) error {
	var errs []error
	if len(refs) != p.BundleSize {
		errs = append(errs, fmt.Errorf("%d refs, want BundleSize %d", len(refs), p.BundleSize))
	}
	for i, r := range refs {
		for _, e := range []error{
			checkRoot(fmt.Sprintf("refs[%d].PrevRoot", i), r.PrevRoot),
			checkRoot(fmt.Sprintf("refs[%d].Root", i), r.Root),
		} {
			if e != nil {
				errs = append(errs, e)
			}
		}
		if i == 0 {
			continue
		}
		if prev := refs[i-1].Height; prev == ^uint64(0) || r.Height != prev+1 {
			errs = append(errs, fmt.Errorf("refs[%d].Height %d does not follow refs[%d].Height %d", i, r.Height, i-1, prev))
		}
		if r.PrevRoot != refs[i-1].Root {
			errs = append(errs, fmt.Errorf("refs[%d].PrevRoot %x is not refs[%d].Root %x", i, r.PrevRoot, i-1, refs[i-1].Root))
		}
	}
	return errors.Join(errs...)
}

// commitment is MiMC-BN254 over every ref's (PrevRoot, Root, ProofDigest).
func commitment(refs []BatchRef) (*big.Int, error) {
	h, err := circuits.NewHasher(AggregateCurve)
	if err != nil {
		return nil, err
	}
	xs := make([]*big.Int, 0, 3*len(refs))
	for _, r := range refs {
		d := ProofDigest(r.Proof)
		xs = append(xs, rootInt(r.PrevRoot), rootInt(r.Root), new(big.Int).SetBytes(d[:]))
	}
	return h.Sum(xs...), nil
}

// AggregateCommitment is the aggregate's Commitment public input for refs:
// MiMC-BN254 over PrevRoot_0, Root_0, ProofDigest_0, PrevRoot_1, ..., as 32
// big-endian bytes. It checks only that the roots are canonical.
func AggregateCommitment(refs []BatchRef) ([32]byte, error) {
	var out [32]byte
	if len(refs) == 0 {
		return out, fmt.Errorf("rollup: aggregate commitment: no refs")
	}
	for i, r := range refs {
		if err := errors.Join(checkRoot(fmt.Sprintf("refs[%d].PrevRoot", i), r.PrevRoot),
			checkRoot(fmt.Sprintf("refs[%d].Root", i), r.Root)); err != nil {
			return out, fmt.Errorf("rollup: aggregate commitment: %w", err)
		}
	}
	c, err := commitment(refs)
	if err != nil {
		return out, fmt.Errorf("rollup: aggregate commitment: %w", err)
	}
	c.FillBytes(out[:])
	return out, nil
}

// AggregateWitness is the full BN254 witness for CompileAggregate(p) over
// refs: exactly p.BundleSize refs at consecutive heights whose roots chain
// (refs[i].Root == refs[i+1].PrevRoot); it reports every violation.
func AggregateWitness(p Params, refs []BatchRef) (witness.Witness, error) {
	p, err := checked(p)
	if err != nil {
		return nil, err
	}
	if err := checkRefs(p, refs); err != nil {
		return nil, fmt.Errorf("rollup: aggregate witness: %w", err)
	}
	c, err := commitment(refs)
	if err != nil {
		return nil, fmt.Errorf("rollup: aggregate witness: %w", err)
	}
	a := &aggregateCircuit{
		StartRoot:  rootInt(refs[0].PrevRoot),
		EndRoot:    rootInt(refs[len(refs)-1].Root),
		Commitment: c,
		Batches:    make([]batchLink, len(refs)),
	}
	for i, r := range refs {
		d := ProofDigest(r.Proof)
		a.Batches[i] = batchLink{PrevRoot: rootInt(r.PrevRoot), Root: rootInt(r.Root), ProofDigest: new(big.Int).SetBytes(d[:])}
	}
	w, err := frontend.NewWitness(a, AggregateCurve.ScalarField())
	if err != nil {
		return nil, fmt.Errorf("rollup: aggregate witness: %w", err)
	}
	return w, nil
}

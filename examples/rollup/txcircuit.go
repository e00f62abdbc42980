package rollup

import (
	"fmt"
	"math/big"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/backend"
	"github.com/consensys/gnark/backend/witness"
	"github.com/consensys/gnark/constraint"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/frontend/cs/r1cs"
	stdgroth16 "github.com/consensys/gnark/std/recursion/groth16"

	"github.com/proofd/proofd/examples/circuits"
)

// Curves of the three circuits. Tx proofs (BLS12-377) are verified natively
// inside batch circuits (BW6-761, whose scalar field is BLS12-377's base
// field); aggregates are on BN254 so they can be verified on Ethereum.
const (
	TxCurve        = ecc.BLS12_377
	BatchCurve     = ecc.BW6_761
	AggregateCurve = ecc.BN254
)

// CompileTx compiles the transfer circuit (examples/circuits) at p.Depth on
// BLS12-377. Public inputs, in order: OldRoot, NewRoot, Amount.
func CompileTx(p Params) (constraint.ConstraintSystem, error) {
	p, err := checked(p)
	if err != nil {
		return nil, err
	}
	c, err := circuits.TransferCircuit(p.Depth)
	if err != nil {
		return nil, err
	}
	ccs, err := frontend.Compile(TxCurve.ScalarField(), r1cs.NewBuilder, c)
	if err != nil {
		return nil, fmt.Errorf("rollup: compile tx circuit: %w", err)
	}
	return ccs, nil
}

// TxWitness is tx's full BLS12-377 witness for CompileTx(p). It fails if tx
// is malformed or its depth is not p.Depth; an invalid transfer yields a
// witness the circuit rejects.
func TxWitness(p Params, tx *Tx) (witness.Witness, error) {
	p, err := checked(p)
	if err != nil {
		return nil, err
	}
	if tx == nil {
		return nil, fmt.Errorf("rollup: tx witness: nil tx")
	}
	if err := tx.Check(); err != nil {
		return nil, fmt.Errorf("rollup: tx witness: %w", err)
	}
	if len(tx.Sender.Path) != p.Depth {
		return nil, fmt.Errorf("rollup: tx witness: path length %d, want Depth %d", len(tx.Sender.Path), p.Depth)
	}
	opening := func(o *Opening) circuits.TransferOpening {
		path := make([]*big.Int, len(o.Path))
		for i := range o.Path {
			path[i] = rootInt(o.Path[i])
		}
		return circuits.TransferOpening{
			Index: o.Index, ID: new(big.Int).SetUint64(o.ID),
			Balance: new(big.Int).SetUint64(o.Balance), Path: path,
		}
	}
	a, err := circuits.TransferAssignment(rootInt(tx.OldRoot), rootInt(tx.NewRoot),
		new(big.Int).SetUint64(tx.Amount), opening(&tx.Sender), opening(&tx.Receiver))
	if err != nil {
		return nil, fmt.Errorf("rollup: tx witness: %w", err)
	}
	w, err := frontend.NewWitness(a, TxCurve.ScalarField())
	if err != nil {
		return nil, fmt.Errorf("rollup: tx witness: %w", err)
	}
	return w, nil
}

// TxProverOption must be passed to groth16.Prove for tx proofs: the batch
// circuit's in-circuit verifier hashes commitments to the field the way this
// option makes the native prover do (a no-op while the tx circuit has no
// commitments, but it keeps both sides consistent).
func TxProverOption() backend.ProverOption {
	return stdgroth16.GetNativeProverOptions(BatchCurve.ScalarField(), TxCurve.ScalarField())
}

// TxVerifierOption is TxProverOption's counterpart for groth16.Verify.
func TxVerifierOption() backend.VerifierOption {
	return stdgroth16.GetNativeVerifierOptions(BatchCurve.ScalarField(), TxCurve.ScalarField())
}

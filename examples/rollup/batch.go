package rollup

import (
	"fmt"

	fr_bls12377 "github.com/consensys/gnark-crypto/ecc/bls12-377/fr"
	"github.com/consensys/gnark/backend/groth16"
	"github.com/consensys/gnark/backend/witness"
	"github.com/consensys/gnark/constraint"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/frontend/cs/r1cs"
	"github.com/consensys/gnark/std/algebra/native/sw_bls12377"
	"github.com/consensys/gnark/std/math/emulated"
	stdgroth16 "github.com/consensys/gnark/std/recursion/groth16"
)

type (
	txFr    = sw_bls12377.ScalarField
	txProof = stdgroth16.Proof[sw_bls12377.G1Affine, sw_bls12377.G2Affine]
	txVKey  = stdgroth16.VerifyingKey[sw_bls12377.G1Affine, sw_bls12377.G2Affine, sw_bls12377.GT]
)

// batchCircuit proves that every Txs[i].Proof is a valid tx proof, under the
// fixed tx verifying key, of (OldRoot, NewRoot, Amount), and that the txs
// chain PrevRoot to Root.
type batchCircuit struct {
	PrevRoot frontend.Variable `gnark:",public"`
	Root     frontend.Variable `gnark:",public"`
	Txs      []txClaim

	// vk is a circuit constant, as in examples/circuits' recursive example:
	// the batch proof attests to this tx circuit and setup only.
	vk txVKey `gnark:"-"`
}

// txClaim is one tx proof with its public inputs as native BW6-761 values.
type txClaim struct {
	OldRoot, NewRoot, Amount frontend.Variable
	Proof                    txProof
}

func (c *batchCircuit) Define(api frontend.API) error {
	if len(c.Txs) == 0 {
		return fmt.Errorf("batch circuit without txs")
	}
	verifier, err := stdgroth16.NewVerifier[txFr, sw_bls12377.G1Affine, sw_bls12377.G2Affine, sw_bls12377.GT](api)
	if err != nil {
		return fmt.Errorf("new verifier: %w", err)
	}
	fr, err := emulated.NewField[txFr](api)
	if err != nil {
		return fmt.Errorf("tx scalar field: %w", err)
	}
	// scalar decomposes a native value into a BLS12-377 scalar of `bits`
	// bits, requiring it canonical (< r) so each value has one encoding.
	scalar := func(v frontend.Variable, bits int) emulated.Element[txFr] {
		e := fr.FromBits(api.ToBinary(v, bits)...)
		fr.AssertIsInRange(e)
		return *e
	}
	for i, tx := range c.Txs {
		public := []emulated.Element[txFr]{
			scalar(tx.OldRoot, fr_bls12377.Bits),
			scalar(tx.NewRoot, fr_bls12377.Bits),
			scalar(tx.Amount, 64),
		}
		if err := verifier.AssertProof(c.vk, tx.Proof, stdgroth16.Witness[txFr]{Public: public}); err != nil {
			return fmt.Errorf("tx %d: %w", i, err)
		}
	}
	api.AssertIsEqual(c.Txs[0].OldRoot, c.PrevRoot)
	for i := 1; i < len(c.Txs); i++ {
		api.AssertIsEqual(c.Txs[i-1].NewRoot, c.Txs[i].OldRoot)
	}
	api.AssertIsEqual(c.Txs[len(c.Txs)-1].NewRoot, c.Root)
	return nil
}

// CompileBatch compiles the batch circuit on BW6-761 for p.TxsPerBlock tx
// proofs under txVK (a BLS12-377 verifying key of CompileTx(p)), which
// becomes a circuit constant. Public inputs, in order: PrevRoot, Root.
func CompileBatch(p Params, txVK groth16.VerifyingKey) (constraint.ConstraintSystem, error) {
	p, err := checked(p)
	if err != nil {
		return nil, err
	}
	if txVK == nil {
		return nil, fmt.Errorf("rollup: compile batch: nil tx verifying key")
	}
	if txVK.CurveID() != TxCurve {
		return nil, fmt.Errorf("rollup: compile batch: tx verifying key on %s, want %s", txVK.CurveID(), TxCurve)
	}
	if n := txVK.NbPublicWitness(); n != 3 {
		return nil, fmt.Errorf("rollup: compile batch: tx verifying key has %d public inputs, want 3", n)
	}
	txCCS, err := CompileTx(p)
	if err != nil {
		return nil, err
	}
	vk, err := stdgroth16.ValueOfVerifyingKeyFixed[sw_bls12377.G1Affine, sw_bls12377.G2Affine, sw_bls12377.GT](txVK)
	if err != nil {
		return nil, fmt.Errorf("rollup: compile batch: tx verifying key: %w", err)
	}
	c := &batchCircuit{Txs: make([]txClaim, p.TxsPerBlock), vk: vk}
	for i := range c.Txs {
		c.Txs[i].Proof = stdgroth16.PlaceholderProof[sw_bls12377.G1Affine, sw_bls12377.G2Affine](txCCS)
	}
	ccs, err := frontend.Compile(BatchCurve.ScalarField(), r1cs.NewBuilder, c)
	if err != nil {
		return nil, fmt.Errorf("rollup: compile batch circuit: %w", err)
	}
	return ccs, nil
}

// BatchWitness is b's full BW6-761 witness for CompileBatch(p, ·). txProofs
// are the tx proofs in tx order, each as groth16 Proof.WriteTo wrote it. It
// fails on a malformed block or proof; proofs that do not verify, or txs
// that do not chain, yield a witness the circuit rejects.
func BatchWitness(p Params, b *Block, txProofs [][]byte) (witness.Witness, error) {
	p, err := checked(p)
	if err != nil {
		return nil, err
	}
	if b == nil {
		return nil, fmt.Errorf("rollup: batch witness: nil block")
	}
	if len(b.Txs) != p.TxsPerBlock {
		return nil, fmt.Errorf("rollup: batch witness: block %d has %d txs, want TxsPerBlock %d", b.Height, len(b.Txs), p.TxsPerBlock)
	}
	a, err := batchAssignment(p, b.PrevRoot(), b.Root(), b.Txs, txProofs)
	if err != nil {
		return nil, fmt.Errorf("rollup: batch witness: block %d: %w", b.Height, err)
	}
	w, err := frontend.NewWitness(a, BatchCurve.ScalarField())
	if err != nil {
		return nil, fmt.Errorf("rollup: batch witness: block %d: %w", b.Height, err)
	}
	return w, nil
}

// batchAssignment assigns the batch circuit; tests call it with roots that
// do not chain.
func batchAssignment(p Params, prev, root Root, txs []Tx, txProofs [][]byte) (*batchCircuit, error) {
	if len(txProofs) != len(txs) {
		return nil, fmt.Errorf("%d tx proofs for %d txs", len(txProofs), len(txs))
	}
	a := &batchCircuit{PrevRoot: rootInt(prev), Root: rootInt(root), Txs: make([]txClaim, len(txs))}
	for i := range txs {
		tx := &txs[i]
		if err := tx.Check(); err != nil {
			return nil, fmt.Errorf("Txs[%d]: %w", i, err)
		}
		if len(tx.Sender.Path) != p.Depth {
			return nil, fmt.Errorf("Txs[%d]: path length %d, want Depth %d", i, len(tx.Sender.Path), p.Depth)
		}
		proof, err := decodeProof(TxCurve, txProofs[i])
		if err != nil {
			return nil, fmt.Errorf("txProofs[%d]: %w", i, err)
		}
		cp, err := stdgroth16.ValueOfProof[sw_bls12377.G1Affine, sw_bls12377.G2Affine](proof)
		if err != nil {
			return nil, fmt.Errorf("txProofs[%d]: %w", i, err)
		}
		a.Txs[i] = txClaim{OldRoot: rootInt(tx.OldRoot), NewRoot: rootInt(tx.NewRoot), Amount: tx.Amount, Proof: cp}
	}
	return a, nil
}

package rollup

import (
	"bytes"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/consensys/gnark/backend"
	"github.com/consensys/gnark/backend/groth16"
	"github.com/consensys/gnark/backend/witness"
	"github.com/consensys/gnark/constraint"
	"github.com/consensys/gnark/frontend"
)

// firstBlock is the first block event of a simulated chain.
func firstBlock(t *testing.T, p Params) *Block {
	t.Helper()
	for _, ev := range mustSimulate(t, SimConfig{Params: p, Seed: 11, Blocks: 3, Reorgs: -1}) {
		if ev.Block != nil {
			return ev.Block
		}
	}
	t.Fatal("no block")
	return nil
}

// keys runs Groth16 setup, reporting its time.
func keys(t testing.TB, name string, ccs constraint.ConstraintSystem) (groth16.ProvingKey, groth16.VerifyingKey) {
	t.Helper()
	start := time.Now()
	pk, vk, err := groth16.Setup(ccs)
	if err != nil {
		t.Fatalf("%s setup: %v", name, err)
	}
	t.Logf("%s: %d constraints, setup %v", name, ccs.GetNbConstraints(), time.Since(start).Round(time.Millisecond))
	return pk, vk
}

// proveVerify proves w, verifies the proof against w's public part and
// returns the proof's bytes.
func proveVerify(t testing.TB, name string, ccs constraint.ConstraintSystem, pk groth16.ProvingKey, vk groth16.VerifyingKey, w witness.Witness, po []backend.ProverOption, vo []backend.VerifierOption) []byte {
	t.Helper()
	start := time.Now()
	proof, err := groth16.Prove(ccs, pk, w, po...)
	if err != nil {
		t.Fatalf("%s prove: %v", name, err)
	}
	t.Logf("%s: prove %v", name, time.Since(start).Round(time.Millisecond))
	public, err := w.Public()
	if err != nil {
		t.Fatal(err)
	}
	if err := groth16.Verify(proof, vk, public, vo...); err != nil {
		t.Fatalf("%s verify: %v", name, err)
	}
	var buf bytes.Buffer
	if _, err := proof.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// txProofs proves every tx of b under a fresh tx setup.
func txProofs(t testing.TB, p Params, b *Block) (groth16.VerifyingKey, [][]byte) {
	t.Helper()
	ccs, err := CompileTx(p)
	if err != nil {
		t.Fatal(err)
	}
	pk, vk := keys(t, "tx", ccs)
	var proofs [][]byte
	for i := range b.Txs {
		w, err := TxWitness(p, &b.Txs[i])
		if err != nil {
			t.Fatal(err)
		}
		proofs = append(proofs, proveVerify(t, "tx", ccs, pk, vk, w,
			[]backend.ProverOption{TxProverOption()}, []backend.VerifierOption{TxVerifierOption()}))
	}
	return vk, proofs
}

// txFix is one tx setup and the proofs of a simulated block's txs, shared
// by the tx and batch tests (setup dominates their time).
type txFixture struct {
	once   sync.Once
	ok     bool
	p      Params
	block  *Block
	ccs    constraint.ConstraintSystem
	vk     groth16.VerifyingKey
	proofs [][]byte
}

var txFix txFixture

// fixture returns txFix, built on first use by the calling test.
func fixture(t *testing.T) *txFixture {
	t.Helper()
	txFix.once.Do(func() {
		// Small depth: the batch circuit's size does not depend on it.
		txFix.p = Params{Depth: 2, TxsPerBlock: 1, BundleSize: 1}
		txFix.block = firstBlock(t, txFix.p)
		txFix.vk, txFix.proofs = txProofs(t, txFix.p, txFix.block)
		ccs, err := CompileTx(txFix.p)
		if err != nil {
			t.Fatal(err)
		}
		txFix.ccs, txFix.ok = ccs, true
	})
	if !txFix.ok {
		t.Fatal("tx fixture failed in an earlier test")
	}
	return &txFix
}

func TestTxCircuit(t *testing.T) {
	f := fixture(t)
	p, b, ccs := f.p, f.block, f.ccs
	if _, err := decodeProof(TxCurve, f.proofs[0]); err != nil {
		t.Fatalf("tx proof does not decode: %v", err)
	}
	if n := ccs.GetNbPublicVariables() - 1; n != 3 {
		t.Fatalf("tx circuit has %d public inputs, want 3", n)
	}
	bad := b.Txs[0]
	bad.Amount++
	w, err := TxWitness(p, &bad)
	if err != nil {
		t.Fatal(err)
	}
	if ccs.IsSolved(w) == nil {
		t.Fatal("a tx with the wrong amount satisfies the circuit")
	}
	if _, err := TxWitness(Params{Depth: 5}, &b.Txs[0]); err == nil {
		t.Fatal("depth-2 tx accepted for depth 5")
	}
}

func TestBatchCircuit(t *testing.T) {
	if testing.Short() {
		t.Skip("BW6-761 setup and proof")
	}
	f := fixture(t)
	p, b, txVK, proofs := f.p, f.block, f.vk, f.proofs
	start := time.Now()
	ccs, err := CompileBatch(p, txVK)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("batch compile %v", time.Since(start).Round(time.Millisecond))
	if n := ccs.GetNbPublicVariables() - 1; n != 2 {
		t.Fatalf("batch circuit has %d public inputs, want 2", n)
	}

	// A root chain that does not start at the block's prev root.
	a, err := batchAssignment(p, b.Root(), b.Root(), b.Txs, proofs)
	if err != nil {
		t.Fatal(err)
	}
	bad, err := frontend.NewWitness(a, BatchCurve.ScalarField())
	if err != nil {
		t.Fatal(err)
	}
	if ccs.IsSolved(bad) == nil {
		t.Fatal("a broken root chain satisfies the batch circuit")
	}
	// A proof of another tx.
	other := *b
	other.Txs = []Tx{b.Txs[0]}
	other.Txs[0].Amount++
	if w, err := BatchWitness(p, &other, proofs); err != nil {
		t.Fatal(err)
	} else if ccs.IsSolved(w) == nil {
		t.Fatal("a tx proof satisfies the batch circuit for another amount")
	}

	w, err := BatchWitness(p, b, proofs)
	if err != nil {
		t.Fatal(err)
	}
	pk, vk := keys(t, "batch", ccs)
	proveVerify(t, "batch", ccs, pk, vk, w, nil, nil)
}

func TestBatchWitnessErrors(t *testing.T) {
	p := Params{Depth: 2, TxsPerBlock: 1, BundleSize: 1}
	b := firstBlock(t, p)
	for _, tc := range []struct {
		name   string
		proofs [][]byte
	}{
		{"no proof", nil},
		{"short", [][]byte{make([]byte, 10)}},
		{"huge commitment count", [][]byte{append(make([]byte, 192), 0xff, 0xff, 0xff, 0xff)}},
		{"garbage", [][]byte{bytes.Repeat([]byte{0x5a}, 244)}},
	} {
		if _, err := BatchWitness(p, b, tc.proofs); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	if _, err := BatchWitness(Params{Depth: 2, TxsPerBlock: 2}, b, nil); err == nil {
		t.Error("1-tx block accepted for TxsPerBlock 2")
	}
	if _, err := CompileBatch(p, nil); err == nil {
		t.Error("nil tx vk accepted")
	}
}

// bundle is p.BundleSize chained refs with stand-in proof bytes: the
// aggregate only commits to their digests.
func bundle(t *testing.T, p Params) []BatchRef {
	t.Helper()
	var refs []BatchRef
	for _, ev := range mustSimulate(t, SimConfig{Params: p, Seed: 3, Blocks: p.BundleSize, Reorgs: -1}) {
		if b := ev.Block; b != nil {
			refs = append(refs, BatchRef{Height: b.Height, PrevRoot: b.PrevRoot(), Root: b.Root(), Proof: b.Hash[:]})
		}
	}
	return refs
}

func TestAggregateCircuit(t *testing.T) {
	p := Params{Depth: 3, TxsPerBlock: 1, BundleSize: 4}
	refs := bundle(t, p)
	ccs, err := CompileAggregate(p)
	if err != nil {
		t.Fatal(err)
	}
	w, err := AggregateWitness(p, refs)
	if err != nil {
		t.Fatal(err)
	}
	pk, vk := keys(t, "aggregate", ccs)
	proveVerify(t, "aggregate", ccs, pk, vk, w, nil, nil)

	c, err := AggregateCommitment(refs)
	if err != nil {
		t.Fatal(err)
	}
	start, end := refs[0].PrevRoot, refs[len(refs)-1].Root
	want, err := frontend.NewWitness(&aggregateCircuit{StartRoot: rootInt(start), EndRoot: rootInt(end), Commitment: rootInt(c)},
		AggregateCurve.ScalarField(), frontend.PublicOnly())
	if err != nil {
		t.Fatal(err)
	}
	public, _ := w.Public()
	if !publicEqual(t, public, want) {
		t.Fatal("public witness is not (StartRoot, EndRoot, AggregateCommitment)")
	}

	// Satisfying the circuit needs chained roots, whatever the witness says.
	a := &aggregateCircuit{StartRoot: rootInt(start), EndRoot: rootInt(end), Commitment: rootInt(c), Batches: make([]batchLink, len(refs))}
	for i, r := range refs {
		d := ProofDigest(r.Proof)
		a.Batches[i] = batchLink{rootInt(r.PrevRoot), rootInt(r.Root), rootInt(d)}
	}
	a.Batches[2].PrevRoot = rootInt(refs[0].PrevRoot)
	bad, err := frontend.NewWitness(a, AggregateCurve.ScalarField())
	if err != nil {
		t.Fatal(err)
	}
	if ccs.IsSolved(bad) == nil {
		t.Fatal("an unchained bundle satisfies the aggregate circuit")
	}
}

func publicEqual(t *testing.T, a, b witness.Witness) bool {
	t.Helper()
	x, err1 := a.MarshalBinary()
	y, err2 := b.MarshalBinary()
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	return bytes.Equal(x, y)
}

func TestAggregateWitnessErrors(t *testing.T) {
	p := Params{Depth: 3, TxsPerBlock: 1, BundleSize: 4}
	refs := bundle(t, p)
	for _, tc := range []struct {
		name   string
		mutate func([]BatchRef) []BatchRef
	}{
		{"short", func(r []BatchRef) []BatchRef { return r[:3] }},
		{"unchained", func(r []BatchRef) []BatchRef { r[2].PrevRoot = r[0].PrevRoot; return r }},
		{"gap", func(r []BatchRef) []BatchRef { r[3].Height++; return r }},
		{"non-canonical", func(r []BatchRef) []BatchRef { r[1].Root[0] = 0xff; r[2].PrevRoot[0] = 0xff; return r }},
	} {
		in := tc.mutate(append([]BatchRef(nil), refs...))
		if _, err := AggregateWitness(p, in); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}

// TestMeasure reports constraint counts and setup/prove times at the
// demo's sizes. It takes minutes; run with ROLLUP_MEASURE=1 -v.
func TestMeasure(t *testing.T) {
	if os.Getenv("ROLLUP_MEASURE") == "" {
		t.Skip("set ROLLUP_MEASURE=1")
	}
	for _, txs := range []int{1, 2} {
		p := Params{Depth: 8, TxsPerBlock: txs, BundleSize: 4}
		t.Logf("== Depth 8, TxsPerBlock %d", txs)
		b := firstBlock(t, p)
		txVK, proofs := txProofs(t, p, b)
		ccs, err := CompileBatch(p, txVK)
		if err != nil {
			t.Fatal(err)
		}
		w, err := BatchWitness(p, b, proofs)
		if err != nil {
			t.Fatal(err)
		}
		pk, vk := keys(t, "batch", ccs)
		proveVerify(t, "batch", ccs, pk, vk, w, nil, nil)
	}
	p := Params{BundleSize: 4}
	ccs, err := CompileAggregate(p)
	if err != nil {
		t.Fatal(err)
	}
	w, err := AggregateWitness(p, bundle(t, p))
	if err != nil {
		t.Fatal(err)
	}
	pk, vk := keys(t, "aggregate", ccs)
	proveVerify(t, "aggregate", ccs, pk, vk, w, nil, nil)
}

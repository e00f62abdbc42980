package circuits

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/backend/witness"
	"github.com/consensys/gnark/constraint"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/frontend/cs/r1cs"
	"github.com/consensys/gnark/frontend/cs/scs"

	"github.com/proofd/proofd/atomicfile"
)

// Example is a compiled circuit with a satisfying full witness and its public part.
type Example struct {
	Name    string
	Curve   ecc.ID
	Scheme  string // "groth16" (R1CS) or "plonk" (SparseR1CS)
	CCS     constraint.ConstraintSystem
	Witness witness.Witness // full witness
	Public  witness.Witness // public part
}

// spec describes one built-in example.
type spec struct {
	name     string
	curves   []ecc.ID
	sizeWord string // what size means, for error messages
	minSize  int
	maxSize  int
	// circuit returns the circuit to compile and a satisfying assignment.
	circuit func(size int, curve ecc.ID) (circuit, assignment frontend.Circuit, err error)
}

// maxChain bounds mimc chains; 2^16 iterations is already millions of constraints.
const maxChain = 1 << 16

var specs = []spec{
	{"mimc", mimcCurves, "size", 1, maxChain, mimcExample},
	{"transfer", mimcCurves, "depth", 1, 32, transferExample},
	{"recursive", []ecc.ID{ecc.BW6_761}, "size", 1, maxChain, recursiveExample},
}

// mimcCurves are the curves for which gnark has both an in-circuit and a
// native MiMC that we use.
var mimcCurves = []ecc.ID{ecc.BN254, ecc.BLS12_377, ecc.BW6_761}

// Names returns the built-in example names: "mimc", "transfer", "recursive".
func Names() []string {
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.name
	}
	return names
}

// Build compiles example name at size for curve and scheme and computes a
// satisfying witness.
func Build(name string, size int, curve ecc.ID, scheme string) (*Example, error) {
	ex, _, err := build(name, size, curve, scheme)
	return ex, err
}

// build is Build that also returns the assignment, so tests can tamper with it.
func build(name string, size int, curve ecc.ID, scheme string) (*Example, frontend.Circuit, error) {
	i := slices.IndexFunc(specs, func(s spec) bool { return s.name == name })
	if i < 0 {
		return nil, nil, fmt.Errorf("unknown example %q (want one of %s)", name, strings.Join(Names(), ", "))
	}
	s := specs[i]
	if !slices.Contains(s.curves, curve) {
		return nil, nil, fmt.Errorf("%s: curve %s not supported (want one of %s)", name, curve, curveList(s.curves))
	}
	newBuilder, err := builderFor(scheme)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	if size < s.minSize || size > s.maxSize {
		return nil, nil, fmt.Errorf("%s: %s %d out of range %d..%d", name, s.sizeWord, size, s.minSize, s.maxSize)
	}

	circuit, assignment, err := s.circuit(size, curve)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	ccs, err := frontend.Compile(curve.ScalarField(), newBuilder, circuit)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: compile: %w", name, err)
	}
	full, err := frontend.NewWitness(assignment, curve.ScalarField())
	if err != nil {
		return nil, nil, fmt.Errorf("%s: witness: %w", name, err)
	}
	public, err := full.Public()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: public witness: %w", name, err)
	}
	ex := &Example{Name: name, Curve: curve, Scheme: scheme, CCS: ccs, Witness: full, Public: public}
	return ex, assignment, nil
}

func builderFor(scheme string) (frontend.NewBuilder, error) {
	switch scheme {
	case "groth16":
		return r1cs.NewBuilder, nil
	case "plonk":
		return scs.NewBuilder, nil
	}
	return nil, fmt.Errorf("unknown scheme %q (want groth16 or plonk)", scheme)
}

func curveList(ids []ecc.ID) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = id.String()
	}
	return strings.Join(s, ", ")
}

// Write builds the example and writes dir/circuit.ccs, dir/witness.wtns and
// dir/public.wtns, each atomically, creating dir if missing.
func Write(name string, size int, curve ecc.ID, scheme string, dir string) (*Example, error) {
	ex, err := Build(name, size, curve, scheme)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create output dir: %w", err)
	}
	files := []struct {
		name  string
		write func(io.Writer) error
	}{
		{"circuit.ccs", func(w io.Writer) error { _, err := ex.CCS.WriteTo(w); return err }},
		{"witness.wtns", marshalTo(ex.Witness)},
		{"public.wtns", marshalTo(ex.Public)},
	}
	for _, f := range files {
		if err := writeFileAtomic(dir, f.name, f.write); err != nil {
			return nil, fmt.Errorf("write %s: %w", filepath.Join(dir, f.name), err)
		}
	}
	return ex, nil
}

func marshalTo(w witness.Witness) func(io.Writer) error {
	return func(out io.Writer) error {
		b, err := w.MarshalBinary()
		if err != nil {
			return err
		}
		_, err = out.Write(b)
		return err
	}
}

// writeFileAtomic writes dir/name atomically (temp, fsync, rename, fsync dir).
func writeFileAtomic(dir, name string, write func(io.Writer) error) error {
	return atomicfile.WriteFunc(filepath.Join(dir, name), 0o644, write)
}

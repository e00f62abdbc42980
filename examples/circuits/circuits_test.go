package circuits

import (
	"bytes"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/backend/groth16"
	"github.com/consensys/gnark/backend/plonk"
	"github.com/consensys/gnark/backend/witness"
	"github.com/consensys/gnark/constraint"
	"github.com/consensys/gnark/frontend"
)

var schemes = []string{"groth16", "plonk"}

// nbPublic is how many public inputs each example declares.
var nbPublic = map[string]int{"mimc": 1, "transfer": 3, "recursive": 1}

func TestNames(t *testing.T) {
	if got, want := Names(), []string{"mimc", "transfer", "recursive"}; !slices.Equal(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
}

func TestBuild(t *testing.T) {
	for _, s := range specs {
		for _, curve := range s.curves {
			for _, scheme := range schemes {
				t.Run(s.name+"/"+curve.String()+"/"+scheme, func(t *testing.T) {
					if s.name == "recursive" && testing.Short() {
						t.Skip("recursive example runs an inner Groth16 setup and proof")
					}
					testBuild(t, s.name, 3, curve, scheme)
				})
			}
		}
	}
}

func testBuild(t *testing.T, name string, size int, curve ecc.ID, scheme string) {
	ex, assignment, err := build(name, size, curve, scheme)
	if err != nil {
		t.Fatal(err)
	}
	if ex.Name != name || ex.Curve != curve || ex.Scheme != scheme {
		t.Errorf("example is %s/%s/%s", ex.Name, ex.Curve, ex.Scheme)
	}
	if err := ex.CCS.IsSolved(ex.Witness); err != nil {
		t.Fatalf("witness does not satisfy the circuit: %v", err)
	}

	// R1CS (groth16) counts the constant-one wire as a public variable;
	// SparseR1CS (plonk) has no such wire.
	wantPublic := ex.CCS.GetNbPublicVariables()
	if scheme == "groth16" {
		wantPublic--
	}
	if wantPublic != nbPublic[name] {
		t.Errorf("circuit has %d public inputs, want %d", wantPublic, nbPublic[name])
	}
	if got := vectorLen(ex.Public); got != wantPublic {
		t.Errorf("public witness has %d values, want %d", got, wantPublic)
	}
	if got, want := vectorLen(ex.Witness), wantPublic+ex.CCS.GetNbSecretVariables(); got != want {
		t.Errorf("full witness has %d values, want %d", got, want)
	}

	tamper(t, assignment)
	if err := ex.CCS.IsSolved(newWitness(t, assignment, curve)); err == nil {
		t.Error("tampered witness satisfies the circuit")
	}
}

// tamper changes the public statement of an assignment by one.
func tamper(t *testing.T, assignment frontend.Circuit) {
	inc := func(v frontend.Variable) *big.Int { return new(big.Int).Add(v.(*big.Int), big.NewInt(1)) }
	switch a := assignment.(type) {
	case *mimcChain:
		a.Out = inc(a.Out)
	case *transfer:
		a.Amount = inc(a.Amount)
	case *recursive:
		a.Out = inc(a.Out)
	default:
		t.Fatalf("cannot tamper with %T", assignment)
	}
}

func newWitness(t *testing.T, assignment frontend.Circuit, curve ecc.ID) witness.Witness {
	t.Helper()
	w, err := frontend.NewWitness(assignment, curve.ScalarField())
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func vectorLen(w witness.Witness) int { return reflect.ValueOf(w.Vector()).Len() }

func TestTransferInvariants(t *testing.T) {
	const depth = 4
	ex, err := Build("transfer", depth, ecc.BN254, "groth16")
	if err != nil {
		t.Fatal(err)
	}
	h, err := newHasher(ecc.BN254)
	if err != nil {
		t.Fatal(err)
	}
	last := uint64(1)<<depth - 1
	tests := []struct {
		name     string
		from, to uint64
		amount   int64
		ok       bool
	}{
		{"whole balance to an empty slot", 1, 5, 250, true},
		{"zero amount", last, 0, 0, true},
		{"overdraft", last, 0, 1001, false},
		{"to self", last, last, 300, false},
		{"from an empty slot", 7, 0, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := transferAssignment(h, depth, tt.from, tt.to, big.NewInt(tt.amount))
			err := ex.CCS.IsSolved(newWitness(t, a, ecc.BN254))
			if tt.ok && err != nil {
				t.Errorf("valid transfer rejected: %v", err)
			}
			if !tt.ok && err == nil {
				t.Error("invalid transfer accepted")
			}
		})
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name   string
		size   int
		curve  ecc.ID
		scheme string
		want   string
	}{
		{"nope", 1, ecc.BN254, "groth16", `unknown example "nope"`},
		{"mimc", 1, ecc.BLS12_381, "groth16", "mimc: curve bls12_381 not supported"},
		{"recursive", 1, ecc.BN254, "groth16", "recursive: curve bn254 not supported"},
		{"mimc", 1, ecc.BN254, "stark", `mimc: unknown scheme "stark"`},
		{"mimc", 0, ecc.BN254, "plonk", "mimc: size 0 out of range 1..65536"},
		{"transfer", 40, ecc.BN254, "groth16", "transfer: depth 40 out of range 1..32"},
		{"transfer", 0, ecc.BN254, "groth16", "transfer: depth 0 out of range 1..32"},
		{"recursive", 0, ecc.BW6_761, "groth16", "recursive: size 0 out of range"},
	}
	for _, tt := range tests {
		_, err := Build(tt.name, tt.size, tt.curve, tt.scheme)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Build(%q, %d, %s, %q) error = %v, want %q", tt.name, tt.size, tt.curve, tt.scheme, err, tt.want)
		}
	}
}

func TestWrite(t *testing.T) {
	for _, tt := range []struct {
		name   string
		curve  ecc.ID
		scheme string
	}{
		{"mimc", ecc.BN254, "groth16"},
		{"transfer", ecc.BLS12_377, "plonk"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out", tt.name)
			ex, err := Write(tt.name, 2, tt.curve, tt.scheme, dir)
			if err != nil {
				t.Fatal(err)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			if want := []string{"circuit.ccs", "public.wtns", "witness.wtns"}; !slices.Equal(names, want) {
				t.Fatalf("dir holds %v, want %v", names, want)
			}

			ccs := readCCS(t, filepath.Join(dir, "circuit.ccs"), tt.curve, tt.scheme)
			if ccs.GetNbConstraints() != ex.CCS.GetNbConstraints() {
				t.Errorf("read back %d constraints, want %d", ccs.GetNbConstraints(), ex.CCS.GetNbConstraints())
			}
			full := readWitness(t, filepath.Join(dir, "witness.wtns"), tt.curve, ex.Witness)
			readWitness(t, filepath.Join(dir, "public.wtns"), tt.curve, ex.Public)
			if err := ccs.IsSolved(full); err != nil {
				t.Errorf("read-back witness does not satisfy read-back circuit: %v", err)
			}
		})
	}
}

func readCCS(t *testing.T, path string, curve ecc.ID, scheme string) constraint.ConstraintSystem {
	t.Helper()
	var ccs constraint.ConstraintSystem
	if scheme == "groth16" {
		ccs = groth16.NewCS(curve)
	} else {
		ccs = plonk.NewCS(curve)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := ccs.ReadFrom(f); err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return ccs
}

// readWitness reads a witness file and checks it matches want.
func readWitness(t *testing.T, path string, curve ecc.ID, want witness.Witness) witness.Witness {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := witness.New(curve.ScalarField())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.UnmarshalBinary(data); err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	wantData, err := want.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, wantData) {
		t.Errorf("%s differs from the example's witness", path)
	}
	return w
}

func TestSizeForConstraints(t *testing.T) {
	for _, curve := range mimcCurves {
		for _, n := range []int{1 << 12, 1 << 16} {
			size := SizeForConstraints(curve, n)
			got, err := mimcConstraints(curve, size)
			if err != nil {
				t.Fatal(err)
			}
			if got < n*9/10 || got > n*11/10 {
				t.Errorf("%s: size %d gives %d constraints, want %d±10%%", curve, size, got, n)
			}
		}
	}
	if got := SizeForConstraints(ecc.BLS12_381, 1<<12); got != 0 {
		t.Errorf("unsupported curve: got size %d, want 0", got)
	}
}

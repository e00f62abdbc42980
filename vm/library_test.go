package vm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/ethereum-optimism/optimism/cannon/mipsevm/versions"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/log"

	"github.com/proofd/proofd/snapshot"
)

// libraryRun is `cannon run`'s loop written against Cannon's library, with
// Cannon's own file loader: it runs the Cannon state file at path to the
// end and returns the proof JSON at each step in proofAt and the final
// state. It is the reference when the cannon binary cannot be built, and
// a check of LoadState's reader against Cannon's.
func libraryRun(t *testing.T, path string, oracle Oracle, proofAt map[uint64]bool) (map[uint64][]byte, *versions.VersionedState) {
	t.Helper()
	st, err := versions.LoadStateFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fpvm := st.CreateVM(log.NewLogger(slog.DiscardHandler), oracle, io.Discard, io.Discard, nil)
	proofs := map[uint64][]byte{}
	for !st.GetExited() {
		step := st.GetStep()
		if !proofAt[step] {
			if _, err := fpvm.Step(false); err != nil {
				t.Fatal(err)
			}
			continue
		}
		wit, err := fpvm.Step(true)
		if err != nil {
			t.Fatal(err)
		}
		_, post := st.EncodeWitness()
		p := &Proof{Step: step, Pre: wit.StateHash, Post: post, StateData: wit.State, ProofData: wit.ProofData}
		if wit.HasPreimage() {
			p.OracleKey, p.OracleValue, p.OracleOffset = wit.PreimageKey[:], wit.PreimageValue, wit.PreimageOffset
		}
		if proofs[step], err = EncodeJSON(p); err != nil {
			t.Fatal(err)
		}
	}
	return proofs, st
}

// machineRun does the same with Machine, from LoadState of the same file.
func machineRun(t *testing.T, path string, oracle Oracle, proofAt map[uint64]bool) (map[uint64][]byte, *versions.VersionedState) {
	t.Helper()
	st, err := LoadState(path, snapshot.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := NewMachine(st, oracle, nil, nil, nil)
	proofs := map[uint64][]byte{}
	for _, step := range sortedSteps(proofAt) {
		if err := m.RunTo(context.Background(), step); err != nil {
			t.Fatal(err)
		}
		p, err := m.StepWithProof()
		if err != nil {
			t.Fatal(err)
		}
		if proofs[step], err = EncodeJSON(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.RunTo(context.Background(), ^uint64(0)); err != nil {
		t.Fatal(err)
	}
	return proofs, st
}

// TestMachineMatchesCannonLibrary compares Machine's proofs and final
// claims with Cannon's library stepped as `cannon run` steps it.
func TestMachineMatchesCannonLibrary(t *testing.T) {
	local, keccak := pickReads(t, preimageReads(t))
	for _, tc := range []struct {
		elf     string
		oracle  func() Oracle
		proofAt []uint64
	}{
		{helloELF, func() Oracle { return nil }, []uint64{0, 1, 2, 500000, 1553426}},
		{preimageELF, func() Oracle { return NewKVOracle(guestKV()) }, []uint64{0, local.step, keccak.step}},
	} {
		t.Run(filepath.Base(tc.elf), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "prestate.bin.gz")
			if err := WriteState(path, loadELF(t, tc.elf)); err != nil {
				t.Fatal(err)
			}
			at := map[uint64]bool{}
			for _, s := range tc.proofAt {
				at[s] = true
			}
			oracle := tc.oracle()
			if oracle == nil {
				oracle = noOracle{}
			}
			wantProofs, wantState := libraryRun(t, path, oracle, at)
			gotProofs, gotState := machineRun(t, path, tc.oracle(), at)
			for _, s := range tc.proofAt {
				if !bytes.Equal(gotProofs[s], wantProofs[s]) {
					t.Errorf("proof at step %d:\n%s\ncannon's library:\n%s", s, gotProofs[s], wantProofs[s])
				}
			}
			if got, want := Claim(gotState), Claim(wantState); got != want {
				t.Errorf("final claim %s, cannon's library %s", got, want)
			}
			got, _ := WitnessJSON(gotState)
			want, _ := WitnessJSON(wantState)
			if !bytes.Equal(got, want) {
				t.Errorf("final witness:\n%s\ncannon's library:\n%s", got, want)
			}
		})
	}
}

// TestGuests pins what the guests do: step counts, exit codes, output.
func TestGuests(t *testing.T) {
	sum := sha256.Sum256(append(crypto.Keccak256(guestInput), guestInput...))
	for _, tc := range []struct {
		elf    string
		oracle Oracle
		steps  uint64
		code   uint8
		out    string
	}{
		{helloELF, nil, 1553427, 0, "hello from cannon: sha256 chain of 100 rounds = f80489dc1e4d0d1d62d1f912fc0e90ff91b4680091429ec0b3f43347b85b6a10\n"},
		{preimageELF, NewKVOracle(guestKV()), 523494, sum[0] % 128, fmt.Sprintf("preimage guest: %d-byte preimage, digest %x\n", len(guestInput), sum)},
	} {
		t.Run(filepath.Base(tc.elf), func(t *testing.T) {
			var out bytes.Buffer
			st := loadELF(t, tc.elf)
			m := NewMachine(st, tc.oracle, nil, &out, &out)
			if err := m.RunTo(context.Background(), ^uint64(0)); err != nil {
				t.Fatal(err)
			}
			if !m.Exited() || st.GetExitCode() != tc.code {
				t.Errorf("exited %v with code %d, want code %d", m.Exited(), st.GetExitCode(), tc.code)
			}
			if m.Step() != tc.steps {
				t.Errorf("ran %d steps, want %d", m.Step(), tc.steps)
			}
			if out.String() != tc.out {
				t.Errorf("output %q, want %q", out.String(), tc.out)
			}
			t.Logf("%s: %d steps, exit code %d, claim %s", filepath.Base(tc.elf), m.Step(), st.GetExitCode(), Claim(st))
		})
	}
}

package vm

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/proofd/proofd/internal/cannontest"

	"github.com/proofd/proofd/snapshot"
)

// These tests compare proofd's vm package with the real `cannon` binary,
// built from the optimism module this module depends on, byte for byte:
// states, metadata, proofs, snapshots and witness output.

// TestLoadELFMatchesCannon: load-elf's state and metadata files are Cannon's.
func TestLoadELFMatchesCannon(t *testing.T) {
	for _, elf := range []string{helloELF, preimageELF} {
		t.Run(filepath.Base(elf), func(t *testing.T) {
			dir := t.TempDir()
			abs, _ := filepath.Abs(elf)
			cannon(t, dir, "load-elf", "--type", "multithreaded64-5", "--path", abs, "--out", "cannon.bin.gz", "--meta", "cannon-meta.json")
			cannon(t, dir, "load-elf", "--type", "multithreaded64-5", "--path", abs, "--out", "cannon.bin", "--meta", "")
			st, meta, err := LoadELF(elf)
			if err != nil {
				t.Fatal(err)
			}
			if err := WriteState(filepath.Join(dir, "proofd.bin.gz"), st); err != nil {
				t.Fatal(err)
			}
			if err := WriteState(filepath.Join(dir, "proofd.bin"), st); err != nil {
				t.Fatal(err)
			}
			if err := WriteJSONFile(filepath.Join(dir, "proofd-meta.json"), meta); err != nil {
				t.Fatal(err)
			}
			sameFile(t, filepath.Join(dir, "proofd.bin"), filepath.Join(dir, "cannon.bin"))
			sameFile(t, filepath.Join(dir, "proofd.bin.gz"), filepath.Join(dir, "cannon.bin.gz"))
			sameFile(t, filepath.Join(dir, "proofd-meta.json"), filepath.Join(dir, "cannon-meta.json"))
		})
	}
}

// TestRunMatchesCannon runs both guests under `cannon run` and vm.Run with
// the same flags and compares every file they write, then the witness
// output of the final states.
func TestRunMatchesCannon(t *testing.T) {
	cannontest.Binary(t)
	ctx := context.Background()

	t.Run("hello", func(t *testing.T) {
		c, p := prestates(t, helloELF)
		flags := []string{"--proof-at", "%500000", "--snapshot-at", "%500000"}
		cannon(t, c, append([]string{"run", "--input", "prestate.bin.gz", "--output", "out.bin.gz", "--meta", "",
			"--proof-fmt", "proof-%d.json", "--snapshot-fmt", "state-%d.bin.gz"}, flags...)...)
		cannon(t, c, "run", "--input", "prestate.bin.gz", "--output", "mid.bin", "--meta", "", "--stop-at", "=777777", "--proof-at", "=777776", "--proof-fmt", "last-%d.json.gz")
		run(t, ctx, RunConfig{Input: filepath.Join(p, "prestate.bin.gz"), Output: filepath.Join(p, "out.bin.gz"),
			ProofAt: "%500000", SnapshotAt: "%500000", ProofFmt: filepath.Join(p, "proof-%d.json"), SnapshotFmt: filepath.Join(p, "state-%d.bin.gz")})
		run(t, ctx, RunConfig{Input: filepath.Join(p, "prestate.bin.gz"), Output: filepath.Join(p, "mid.bin"),
			StopAt: "=777777", ProofAt: "=777776", ProofFmt: filepath.Join(p, "last-%d.json.gz")})
		sameDirs(t, c, p, []string{"last-777776.json.gz", "mid.bin", "out.bin.gz", "prestate.bin.gz",
			"proof-0.json", "proof-1000000.json", "proof-1500000.json", "proof-500000.json",
			"state-0.bin.gz", "state-1000000.bin.gz", "state-1500000.bin.gz", "state-500000.bin.gz"})
		sameWitness(t, c, p, "out.bin.gz")
		sameWitness(t, c, p, "mid.bin")
	})

	t.Run("preimage", func(t *testing.T) {
		local, keccak := pickReads(t, preimageReads(t))
		c, p := prestates(t, preimageELF)
		server := serverArgv(t, "kv")
		cannon(t, c, append([]string{"run", "--input", "prestate.bin.gz", "--output", "out.bin.gz", "--meta", "",
			"--proof-at", "=" + itoa(local.step), "--proof-fmt", "proof-%d.json",
			"--snapshot-at", "=" + itoa(keccak.step), "--snapshot-fmt", "state-%d.bin.gz", "--"}, server...)...)
		mid := "state-" + itoa(keccak.step) + ".bin.gz"
		cannon(t, c, append([]string{"run", "--input", mid, "--output", "after.bin", "--meta", "",
			"--proof-at", "=" + itoa(keccak.step), "--proof-fmt", "proof-%d.json", "--stop-at", "=" + itoa(keccak.step+1), "--"}, server...)...)
		run(t, ctx, RunConfig{Input: filepath.Join(p, "prestate.bin.gz"), Output: filepath.Join(p, "out.bin.gz"), Server: server,
			ProofAt: "=" + itoa(local.step), ProofFmt: filepath.Join(p, "proof-%d.json"),
			SnapshotAt: "=" + itoa(keccak.step), SnapshotFmt: filepath.Join(p, "state-%d.bin.gz")})
		run(t, ctx, RunConfig{Input: filepath.Join(p, mid), Output: filepath.Join(p, "after.bin"), Server: server,
			ProofAt: "=" + itoa(keccak.step), ProofFmt: filepath.Join(p, "proof-%d.json"), StopAt: "=" + itoa(keccak.step+1)})
		sameDirs(t, c, p, []string{"after.bin", "out.bin.gz", "prestate.bin.gz",
			"proof-" + itoa(keccak.step) + ".json", "proof-" + itoa(local.step) + ".json", mid})
		for _, name := range []string{"proof-" + itoa(local.step) + ".json", "proof-" + itoa(keccak.step) + ".json"} {
			if b, _ := os.ReadFile(filepath.Join(p, name)); !bytes.Contains(b, []byte(`"oracle-value"`)) {
				t.Errorf("%s has no oracle fields:\n%s", name, b)
			}
		}
		sameWitness(t, c, p, "out.bin.gz")
		sameWitness(t, c, p, "after.bin")
	})
}

// TestWitnessOfSnapshotMatchesCannon: `cannon witness` of a Cannon file
// equals WitnessJSON of the same state read from a proofd snapshot.
func TestWitnessOfSnapshotMatchesCannon(t *testing.T) {
	dir := t.TempDir()
	st := loadELF(t, helloELF)
	m := NewMachine(st, nil, nil, nil, nil)
	if err := m.RunTo(context.Background(), 123457); err != nil {
		t.Fatal(err)
	}
	if err := WriteState(filepath.Join(dir, "s.bin.gz"), st); err != nil {
		t.Fatal(err)
	}
	if err := WriteState(filepath.Join(dir, "s.state"), st); err != nil {
		t.Fatal(err)
	}
	want := cannon(t, dir, "witness", "--input", "s.bin.gz")
	back, err := LoadState(filepath.Join(dir, "s.state"), snapshot.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := WitnessJSON(back)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("witness of the snapshot:\n%s\ncannon witness:\n%s", got, want)
	}
}

// prestates writes the guest's initial state with Cannon (into c) and with
// proofd (into p) and checks they are the same bytes.
func prestates(t *testing.T, elf string) (c, p string) {
	t.Helper()
	root := t.TempDir()
	c, p = filepath.Join(root, "cannon"), filepath.Join(root, "proofd")
	for _, d := range []string{c, p} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	abs, _ := filepath.Abs(elf)
	cannon(t, c, "load-elf", "--type", "multithreaded64-5", "--path", abs, "--out", "prestate.bin.gz", "--meta", "")
	if err := WriteState(filepath.Join(p, "prestate.bin.gz"), loadELF(t, elf)); err != nil {
		t.Fatal(err)
	}
	return c, p
}

func run(t *testing.T, ctx context.Context, cfg RunConfig) {
	t.Helper()
	if err := Run(ctx, cfg); err != nil {
		t.Fatal(err)
	}
}

// sameDirs checks that both directories hold exactly want, with equal bytes.
func sameDirs(t *testing.T, a, b string, want []string) {
	t.Helper()
	for _, d := range []string{a, b} {
		entries, err := os.ReadDir(d)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range entries {
			got = append(got, e.Name())
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s holds %q, want %q", d, got, want)
		}
	}
	for _, name := range want {
		sameFile(t, filepath.Join(b, name), filepath.Join(a, name))
	}
}

func sameFile(t *testing.T, got, want string) {
	t.Helper()
	g, err := os.ReadFile(got)
	if err != nil {
		t.Fatal(err)
	}
	w, err := os.ReadFile(want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(g, w) {
		t.Errorf("%s (%d bytes) differs from %s (%d bytes)%s", got, len(g), want, len(w), firstDiff(g, w))
	}
}

func firstDiff(a, b []byte) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			lo, hi := max(i-40, 0), min(i+40, len(a), len(b))
			return "\nfirst difference at byte " + itoa(uint64(i)) + ":\n got " + string(a[lo:hi]) + "\nwant " + string(b[lo:hi])
		}
	}
	return ""
}

// sameWitness compares `cannon witness` of name in c with WitnessJSON of
// LoadState of name in p.
func sameWitness(t *testing.T, c, p, name string) {
	t.Helper()
	want := cannon(t, c, "witness", "--input", name)
	st, err := LoadState(filepath.Join(p, name), snapshot.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := WitnessJSON(st)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("witness of %s:\n%s\ncannon witness:\n%s", name, got, want)
	}
}

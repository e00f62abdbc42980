package vm

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethereum-optimism/optimism/cannon/mipsevm/memory"
	"github.com/ethereum-optimism/optimism/cannon/mipsevm/multithreaded"
	"github.com/ethereum-optimism/optimism/cannon/mipsevm/versions"

	"github.com/proofd/proofd/snapshot"
)

// smallState is a valid Cannon state with pages at indices 1 and 2 and an
// empty right thread stack, as Cannon serializes it.
func smallState(t testing.TB, edit func(*multithreaded.State)) []byte {
	t.Helper()
	mt := multithreaded.CreateEmptyState()
	mt.Memory.SetWord(0x1000, 0x0102030405060708)
	mt.Memory.SetWord(0x2008, 42)
	if edit != nil {
		edit(mt)
	}
	var buf bytes.Buffer
	if err := (&versions.VersionedState{Version: StateVersion, FPVMState: mt}).Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// Cannon's encoding, for placing damage: a page record is (u64 index, page),
// and the state after memory starts with these fixed fields (PreimageKey …
// NextThreadId) before the thread counts.
const (
	pageRecordSize = 8 + memory.PageSize
	stateFixedSize = 32 + 8 + 8 + 1 + 8 + 8 + 1 + 1 + 8 + 8 + 1 + 8
)

// TestLoadStateRejects: every malformed input is an error that names the
// file, never a panic or a huge allocation.
func TestLoadStateRejects(t *testing.T) {
	good := smallState(t, nil)
	const rest = 9 + 2*pageRecordSize // where the state after memory starts
	edit := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	putU64 := func(at int, v uint64) []byte {
		return edit(func(b []byte) []byte { binary.BigEndian.PutUint64(b[at:], v); return b })
	}
	for _, tc := range []struct {
		name string
		data []byte // nil: the file does not exist
		want string
	}{
		{"missing", nil, "no such file"},
		{"empty", []byte{}, "truncated"},
		{"text", []byte("hello, world\n"), "not a proofd snapshot"},
		{"old version", edit(func(b []byte) []byte { b[0] = 7; return b }), "version byte 7"},
		{"truncated page count", good[:5], "truncated"},
		{"page count too large", putU64(1, 1<<40), "page count"},
		{"page count too large, gzipped", gz(putU64(1, 1<<62)), "page count"},
		{"page index too large", putU64(9, 1<<60), "beyond the 64-bit address space"},
		{"duplicate page", putU64(9+pageRecordSize, 1), "duplicate page"},
		{"truncated page", good[:9+100], "page count 2, at most 0 fit"},
		{"truncated page, gzipped", gz(good[:9+100]), "truncated in page data"},
		{"truncated state", good[:rest+50], "truncated"},
		{"left thread count", putU64(rest+stateFixedSize, 1<<50), "left thread count"},
		{"trailing bytes", append(bytes.Clone(good), 0), "hint length"},
		{"exited is 2", edit(func(b []byte) []byte { b[rest+66] = 2; return b }), "invalid boolean"},
		{"empty active stack", smallState(t, func(mt *multithreaded.State) { mt.LeftThreadStack = nil }), "thread stack is empty"},
		{"truncated gzip", gz(good)[:len(gz(good))/2], "truncated"},
		{"corrupt gzip", edit(func([]byte) []byte { b := gz(good); b[len(b)/2] ^= 0xff; return b }), "offset"},
		{"snapshot magic then junk", append([]byte(snapshot.Magic), make([]byte, 500)...), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state-file")
			if tc.data != nil {
				if err := os.WriteFile(path, tc.data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			st, err := LoadState(path, snapshot.Options{})
			if err == nil {
				t.Fatalf("LoadState: no error, step %d", st.GetStep())
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("LoadState: %v, want an error naming %s and saying %q", err, path, tc.want)
			}
		})
	}
	t.Run("good", func(t *testing.T) {
		for _, data := range [][]byte{good, gz(good)} {
			path := filepath.Join(t.TempDir(), "good")
			os.WriteFile(path, data, 0o644)
			st, err := LoadState(path, snapshot.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := st.GetMemory().GetWord(0x1000); got != 0x0102030405060708 {
				t.Errorf("word at 0x1000: %#x", got)
			}
		}
	})
}

func TestLoadELFRejects(t *testing.T) {
	dir := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	hello, err := os.ReadFile(helloELF)
	if err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage.elf")
	os.WriteFile(garbage, []byte("not an elf at all"), 0o644)
	truncated := filepath.Join(dir, "truncated.elf")
	os.WriteFile(truncated, hello[:4096], 0o644)
	for _, path := range []string{filepath.Join(dir, "missing.elf"), garbage, truncated, self} {
		if _, _, err := LoadELF(path); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("LoadELF(%s): %v, want an error naming the file", path, err)
		}
	}
}

func TestWriteStateRejects(t *testing.T) {
	dir := t.TempDir()
	st := loadELF(t, helloELF)
	for _, tc := range []struct {
		path string
		st   *versions.VersionedState
	}{
		{filepath.Join(dir, "nil.bin"), nil},
		{filepath.Join(dir, "old.state"), &versions.VersionedState{Version: versions.VersionMultiThreaded64_v4, FPVMState: st.FPVMState}},
		{filepath.Join(dir, "no", "such", "dir.bin.gz"), st},
		{filepath.Join(dir, "no", "such", "dir.state"), st},
	} {
		if err := WriteState(tc.path, tc.st); err == nil || !strings.Contains(err.Error(), tc.path) {
			t.Errorf("WriteState(%s): %v, want an error naming the file", tc.path, err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("failed writes left %d files behind", len(entries))
	}
}

// TestCannonSnapshotRoundTrip: a Cannon state converted to a proofd
// snapshot and back is bit-exact, whichever way it goes, and the claim is
// the same everywhere.
func TestCannonSnapshotRoundTrip(t *testing.T) {
	dir := t.TempDir()
	file := func(name string) string { return filepath.Join(dir, name) }
	st := loadELF(t, helloELF)
	m := NewMachine(st, nil, nil, nil, nil)
	if err := m.RunTo(context.Background(), 900001); err != nil {
		t.Fatal(err)
	}
	claim := Claim(st)
	for _, name := range []string{"orig.bin.gz", "orig.bin", "direct.state"} {
		if err := WriteState(file(name), st); err != nil {
			t.Fatal(err)
		}
	}
	// Cannon file → snapshot (snapshot package) → LoadState → Cannon file (vm).
	if err := snapshot.Convert(file("orig.bin.gz"), file("conv.state"), snapshot.Options{}); err != nil {
		t.Fatal(err)
	}
	back, err := LoadState(file("conv.state"), snapshot.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteState(file("back.bin.gz"), back); err != nil {
		t.Fatal(err)
	}
	sameFile(t, file("back.bin.gz"), file("orig.bin.gz"))
	// Snapshot written by vm → Cannon file (snapshot package).
	if err := snapshot.ToCannon(file("direct.state"), file("direct.bin"), snapshot.Options{}); err != nil {
		t.Fatal(err)
	}
	sameFile(t, file("direct.bin"), file("orig.bin"))
	for _, name := range []string{"orig.bin.gz", "orig.bin", "direct.state", "conv.state", "back.bin.gz"} {
		got, err := LoadState(file(name), snapshot.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if Claim(got) != claim || got.GetStep() != 900001 {
			t.Errorf("%s: claim %s at step %d, want %s at 900001", name, Claim(got), got.GetStep(), claim)
		}
	}
	if i, err := snapshot.ReadInfo(file("direct.state")); err != nil || i.Claim != claim {
		t.Errorf("snapshot header claim %s (%v), want %s", i.Claim, err, claim)
	}
}

// FuzzLoadState: no input makes LoadState panic, and what it accepts can
// be hashed and cloned. (It does not step what it loads: a random state
// can make Cannon do unbounded work in one step, e.g. write 2^40 bytes.)
func FuzzLoadState(f *testing.F) {
	good := smallState(f, nil)
	f.Add(good)
	f.Add(gz(good))
	f.Add([]byte("garbage"))
	f.Add(append([]byte(snapshot.Magic), good...))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "fuzz")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		// A small ceiling, so that a fuzzed gzip bomb is refused, not loaded.
		st, err := LoadState(path, snapshot.Options{MaxMemoryBytes: 64 << 20})
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error does not name the file: %v", err)
			}
			return
		}
		cp, err := Clone(st)
		if err != nil {
			t.Fatal(err)
		}
		if Claim(cp) != Claim(st) {
			t.Error("the clone has another claim")
		}
	})
}

package snapshot

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethereum-optimism/optimism/cannon/mipsevm/memory"
	"github.com/ethereum-optimism/optimism/cannon/mipsevm/multithreaded"
	"github.com/ethereum-optimism/optimism/cannon/mipsevm/versions"
)

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		pages int
		opts  Options
		warm  bool // hash the state first, so Write finds Cannon's page caches valid
	}{
		{"empty memory", 0, Options{}, false},
		{"one page", 1, Options{}, false},
		{"one page per chunk", 23, Options{PagesPerChunk: 1, Workers: 3}, false},
		{"partial last chunk", 41, Options{PagesPerChunk: 8}, true},
		{"default chunks", 300, Options{}, false},
		{"default chunks warm", 300, Options{}, true},
		{"single worker best compression", 70, Options{Workers: 1, Level: 4}, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			vs := testState(uint64(i), tt.pages)
			want := cannonBytes(t, vs)
			if tt.warm {
				mt(vs).EncodeWitness()
			}
			path := writeSnapshot(t, dir, vs, tt.opts)

			info, err := ReadInfo(path)
			if err != nil {
				t.Fatal(err)
			}
			witness, claim := mt(vs).EncodeWitness()
			if info.Claim != claim || !bytes.Equal(info.Witness, witness) {
				t.Errorf("header claim %s, cannon's %s", info.Claim, claim)
			}
			if got, want := info.Step, mt(vs).Step; got != want {
				t.Errorf("step %d, want %d", got, want)
			}
			if got, want := info.PageCount, uint64(tt.pages); got != want {
				t.Errorf("page count %d, want %d", got, want)
			}
			if err := Verify(path); err != nil {
				t.Fatal(err)
			}

			loaded, err := Load(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := cannonBytes(t, loaded); !bytes.Equal(got, want) {
				t.Fatal("loaded state serializes differently from the original")
			}
			if _, got := mt(loaded).EncodeWitness(); got != claim {
				t.Errorf("loaded state's claim %s, want %s", got, claim)
			}

			bin := filepath.Join(dir, "out.bin")
			if err := ToCannon(path, bin, Options{}); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(readFile(t, bin), want) {
				t.Error("ToCannon .bin differs from cannon's serialization")
			}
			gz := filepath.Join(dir, "out.bin.gz")
			if err := ToCannon(path, gz, Options{}); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(readFile(t, gz), readFile(t, cannonFile(t, dir, "cannon.bin.gz", vs))) {
				t.Error("ToCannon .bin.gz differs from cannon's own .bin.gz")
			}
		})
	}
}

func TestFromCannon(t *testing.T) {
	for _, name := range []string{"state.bin", "state.bin.gz"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			vs := testState(7, 150)
			in := cannonFile(t, dir, name, vs)
			snap := filepath.Join(dir, "from.snap")
			if err := FromCannon(in, snap, Options{PagesPerChunk: 16}); err != nil {
				t.Fatal(err)
			}
			if err := Verify(snap); err != nil {
				t.Fatal(err)
			}
			info, err := ReadInfo(snap)
			if err != nil {
				t.Fatal(err)
			}
			if _, claim := mt(vs).EncodeWitness(); info.Claim != claim {
				t.Errorf("claim %s, cannon's %s", info.Claim, claim)
			}
			back := filepath.Join(dir, "back-"+name)
			if err := ToCannon(snap, back, Options{}); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(readFile(t, back), readFile(t, in)) {
				t.Error("cannon → snapshot → cannon is not bit-exact")
			}
			// One code path: converting and writing the same state give the same file.
			direct := filepath.Join(dir, "direct.snap")
			if err := Write(direct, vs, Options{PagesPerChunk: 16}); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(readFile(t, direct), readFile(t, snap)) {
				t.Error("FromCannon and Write of the same state differ")
			}
		})
	}
}

// rawCannon encodes a Cannon .bin by hand, so tests can make files Cannon
// itself would not write: unsorted or duplicate pages, bad counts.
func rawCannon(version byte, count uint64, pages []uint64, state []byte) []byte {
	b := binary.BigEndian.AppendUint64([]byte{version}, count)
	for _, idx := range pages {
		b = binary.BigEndian.AppendUint64(b, idx)
		page := bytes.Repeat([]byte{byte(idx), byte(idx >> 8)}, PageSize/2)
		b = append(b, page...)
	}
	return append(b, state...)
}

func emptyStateBytes(t *testing.T) []byte {
	b, err := stateBytes(multithreaded.CreateEmptyState())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFromCannonUnsortedIsBitExact(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "unsorted.bin")
	raw := rawCannon(byte(versions.GetCurrentVersion()), 5, []uint64{9, 2, 0x7000, 3, 1}, emptyStateBytes(t))
	if err := os.WriteFile(in, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	snap := filepath.Join(dir, "s.snap")
	if err := FromCannon(in, snap, Options{PagesPerChunk: 2}); err != nil {
		t.Fatal(err)
	}
	if err := Verify(snap); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.bin")
	if err := ToCannon(snap, out, Options{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readFile(t, out), raw) {
		t.Error("unsorted pages do not round-trip bit-exactly")
	}
	st, err := versions.LoadStateFromFile(in)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := ReadInfo(snap)
	if _, claim := st.EncodeWitness(); info.Claim != claim {
		t.Errorf("claim %s, cannon's %s", info.Claim, claim)
	}
	r, err := Open(snap)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, idx := range []uint64{9, 2, 0x7000, 3, 1} {
		page, err := r.ReadPage(idx)
		if err != nil {
			t.Fatal(err)
		}
		if want := bytes.Repeat([]byte{byte(idx), byte(idx >> 8)}, PageSize/2); !bytes.Equal(page, want) {
			t.Errorf("page %#x differs", idx)
		}
	}
}

func TestFromCannonRejects(t *testing.T) {
	v := byte(versions.GetCurrentVersion())
	state := func(t *testing.T) []byte { return emptyStateBytes(t) }
	tests := []struct {
		name string
		raw  func(t *testing.T) []byte
		want string
		gz   bool
	}{
		{"empty file", func(*testing.T) []byte { return nil }, "truncated", false},
		{"old version", func(t *testing.T) []byte { return rawCannon(5, 0, nil, state(t)) }, "version", false},
		{"absurd page count", func(t *testing.T) []byte { return rawCannon(v, 1<<60, nil, state(t)) }, "page count", false},
		{"more pages declared than fit", func(t *testing.T) []byte { return rawCannon(v, 3, []uint64{1, 2}, state(t))[:9+2*cannonPageSz+100] }, "page count", false},
		{"gzipped, more pages declared than present", func(t *testing.T) []byte { return rawCannon(v, 3, []uint64{1, 2}, state(t))[:9+2*cannonPageSz+100] }, "truncated in page data (offset in the decompressed stream)", true},
		{"gzipped, corrupt", func(t *testing.T) []byte { return rawCannon(v, 3, []uint64{1, 2, 3}, state(t)) }, "offset", true},
		{"duplicate page", func(t *testing.T) []byte { return rawCannon(v, 3, []uint64{1, 2, 1}, state(t)) }, "duplicate page 0x1", false},
		{"page beyond address space", func(t *testing.T) []byte { return rawCannon(v, 1, []uint64{1 << 52}, state(t)) }, "address space", false},
		{"truncated state", func(t *testing.T) []byte { b := rawCannon(v, 1, []uint64{1}, state(t)); return b[:len(b)-3] }, "hint length", false},
		{"trailing bytes", func(t *testing.T) []byte { return append(rawCannon(v, 1, []uint64{1}, state(t)), 0) }, "hint length", false},
		{"absurd thread count", func(t *testing.T) []byte {
			s := state(t)
			binary.BigEndian.PutUint64(s[stateFixedSize:], 1<<40)
			return rawCannon(v, 0, nil, s)
		}, "thread count", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			in := filepath.Join(dir, "bad.bin")
			raw := tt.raw(t)
			if tt.gz {
				in += ".gz"
				raw = gzipped(raw)
				if tt.name == "gzipped, corrupt" {
					raw[len(raw)/2] ^= 0x10
				}
			}
			if err := os.WriteFile(in, raw, 0o644); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, "out.snap")
			err := FromCannon(in, out, Options{PagesPerChunk: 2})
			if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tt.want)) || !bytes.Contains([]byte(err.Error()), []byte(in)) {
				t.Fatalf("error %v, want one naming %s and %q", err, in, tt.want)
			}
			if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
				t.Error("a failed conversion left the output behind")
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 1 {
				t.Errorf("temp files left behind: %v", ents)
			}
		})
	}
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// TestMemoryRootMatchesCannon checks the fold of page roots against
// Cannon's own Merkle root, including pages at both ends of the address space.
func TestMemoryRootMatchesCannon(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for trial := range 20 {
		m := memory.NewMemory()
		var pages []pageEntry
		n := trial * 3
		seen := map[uint64]bool{}
		for k := range n {
			var idx uint64
			switch k % 3 {
			case 0:
				idx = rng.Uint64N(64)
			case 1:
				idx = maxPageIndex - rng.Uint64N(64)
			default:
				idx = rng.Uint64N(maxPageIndex + 1)
			}
			if seen[idx] {
				continue
			}
			seen[idx] = true
			p := m.AllocPage(idx)
			binary.BigEndian.PutUint64(p.Data[rng.IntN(PageSize/8)*8:], rng.Uint64())
			var scratch memory.CachedPage
			pages = append(pages, pageEntry{index: idx, root: pageRoot(&scratch, p.Data)})
		}
		order, dup := sortOrder(len(pages), func(k int) uint64 { return pages[k].index })
		if dup >= 0 {
			t.Fatal("duplicate")
		}
		if got, want := memoryRoot(sortedPages{pages, order}), m.MerkleRoot(); got != want {
			t.Fatalf("trial %d: root %x, cannon %x", trial, got, want)
		}
	}
}

func TestReadPage(t *testing.T) {
	vs := testState(11, 60)
	path := writeSnapshot(t, t.TempDir(), vs, Options{PagesPerChunk: 7})
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	n := 0
	err = mt(vs).Memory.ForEachPage(func(idx uint64, want memory.Page) error {
		n++
		got, err := r.ReadPage(idx)
		if err != nil {
			return err
		}
		if !bytes.Equal(got, want) {
			t.Errorf("page %#x differs", idx)
		}
		return nil
	})
	if err != nil || n != 60 {
		t.Fatal(err, n)
	}
	if _, err := r.ReadPage(0xdead_0000); !errors.Is(err, ErrPageNotFound) {
		t.Errorf("missing page: %v, want ErrPageNotFound", err)
	}
}

func TestOptionsDefaultsAreValid(t *testing.T) {
	var opts Options
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		t.Fatal(err)
	}
	if opts.PagesPerChunk != defaultPagesPerChunk || opts.Workers < 1 || opts.FS == nil {
		t.Errorf("defaults not filled: %+v", opts)
	}
}

func TestOptionsReportsEveryViolation(t *testing.T) {
	opts := Options{PagesPerChunk: MaxPagesPerChunk + 1, Workers: -1, Level: 99}
	opts.EnsureDefaults()
	err := opts.Validate()
	for _, want := range []string{"PagesPerChunk", "Workers", "Level"} {
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte(want)) {
			t.Errorf("error %v does not mention %s", err, want)
		}
	}
}

func TestIsSnapshot(t *testing.T) {
	dir := t.TempDir()
	vs := testState(1, 3)
	snap := writeSnapshot(t, dir, vs, Options{})
	bin := cannonFile(t, dir, "s.bin.gz", vs)
	if !IsSnapshot(snap) || IsSnapshot(bin) || IsSnapshot(filepath.Join(dir, "missing")) {
		t.Error("IsSnapshot misclassifies")
	}
	if _, err := ReadInfo(bin); !errors.Is(err, ErrUnsupported) {
		t.Errorf("ReadInfo of a cannon file: %v, want ErrUnsupported", err)
	}
}

func TestConvertPicksTheDirection(t *testing.T) {
	dir := t.TempDir()
	vs := testState(3, 9)
	bin := cannonFile(t, dir, "a.bin.gz", vs)
	snap := filepath.Join(dir, "a.snap")
	back := filepath.Join(dir, "b.bin.gz")
	if err := Convert(bin, snap, Options{}); err != nil {
		t.Fatal(err)
	}
	if err := Convert(snap, back, Options{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readFile(t, bin), readFile(t, back)) {
		t.Error("round trip through Convert is not bit-exact")
	}
	for _, tt := range []struct{ in, out, want string }{
		{snap, filepath.Join(dir, "c.snap"), "already a snapshot"},
		{bin, filepath.Join(dir, "c.bin"), "not a snapshot"},
	} {
		if err := Convert(tt.in, tt.out, Options{}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Convert(%s, %s): %v, want %q", tt.in, tt.out, err, tt.want)
		}
	}
}

package snapshot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/proofd/proofd/atomicfile/faultfs"

	"github.com/ethereum-optimism/optimism/cannon/mipsevm/multithreaded"
	"github.com/ethereum-optimism/optimism/cannon/mipsevm/versions"
)

// layout is where a valid file's sections are, read back from its footer.
type layout struct {
	size                         int
	stateOff, indexOff, indexLen int
	chunks                       int
}

func layoutOf(b []byte) layout {
	f := b[len(b)-FooterSize:]
	l := layout{
		size:     len(b),
		stateOff: int(binary.BigEndian.Uint64(f[0:])),
		indexOff: int(binary.BigEndian.Uint64(f[16:])),
		indexLen: int(binary.BigEndian.Uint64(f[24:])),
	}
	pages := binary.BigEndian.Uint64(b[24:])
	ppc := uint64(binary.BigEndian.Uint32(b[12:]))
	l.chunks = int((pages + ppc - 1) / ppc)
	return l
}

// section names the part of the file that holds byte off.
func (l layout) section(off int) string {
	switch {
	case off < HeaderSize:
		return "header"
	case off < l.stateOff:
		return "chunks"
	case off < l.indexOff:
		return "state"
	case off < l.indexOff+l.indexLen:
		return "index"
	default:
		return "footer"
	}
}

// errOffset is the byte offset an error names.
func errOffset(t *testing.T, err error) int {
	t.Helper()
	_, rest, ok := strings.Cut(err.Error(), ": offset ")
	if !ok {
		t.Fatalf("error %q names no offset", err)
	}
	end := strings.IndexByte(rest, ':')
	n, perr := strconv.Atoi(rest[:end])
	if perr != nil {
		t.Fatalf("error %q: bad offset: %v", err, perr)
	}
	return n
}

func smallSnapshot(t testing.TB) (string, []byte) {
	t.Helper()
	path := writeSnapshot(t, t.TempDir(), testState(5, 13), Options{PagesPerChunk: 4})
	return path, readFile(t, path)
}

// TestBitFlipsAreCaught flips one bit in every byte of a small file
// (every 7th byte of the chunks, which all share one check) and checks that
// Verify fails with an error naming the file and an offset in the damaged
// section.
func TestBitFlipsAreCaught(t *testing.T) {
	_, orig := smallSnapshot(t)
	l := layoutOf(orig)
	bad := filepath.Join(t.TempDir(), "bad.snap")
	for off := range orig {
		if l.section(off) == "chunks" && off%7 != 0 {
			continue
		}
		b := bytes.Clone(orig)
		b[off] ^= 1 << (off % 8)
		if err := os.WriteFile(bad, b, 0o644); err != nil {
			t.Fatal(err)
		}
		err := Verify(bad)
		if err == nil {
			t.Fatalf("flip at %d (%s) not caught", off, l.section(off))
		}
		if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported) {
			t.Fatalf("flip at %d: %v is not a content error", off, err)
		}
		mustFailNaming(t, err, bad)
		if got, want := l.section(errOffset(t, err)), l.section(off); got != want {
			t.Fatalf("flip at %d in the %s: error points into the %s: %v", off, want, got, err)
		}
	}
}

// TestLoadCatchesChunkDamage checks that Load, whose chunk checksums come
// before any hashing, fails on a damaged chunk.
func TestLoadCatchesChunkDamage(t *testing.T) {
	_, orig := smallSnapshot(t)
	l := layoutOf(orig)
	bad := filepath.Join(t.TempDir(), "bad.snap")
	for off := HeaderSize; off < l.stateOff; off += 97 {
		b := bytes.Clone(orig)
		b[off] ^= 0x80
		os.WriteFile(bad, b, 0o644)
		_, err := Load(bad, Options{})
		mustFailNaming(t, err, bad)
	}
}

// TestTruncationIsCaught cuts a file at every length near either end and
// at every 7th length in between.
func TestTruncationIsCaught(t *testing.T) {
	_, orig := smallSnapshot(t)
	bad := filepath.Join(t.TempDir(), "short.snap")
	for n := range len(orig) {
		if n > 2*HeaderSize && n < len(orig)-2*FooterSize && n%7 != 0 {
			continue
		}
		if err := os.WriteFile(bad, orig[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := ReadInfo(bad)
		mustFailNaming(t, err, bad)
		mustFailNaming(t, Verify(bad), bad)
	}
}

// Re-signing lets a test damage a field without tripping a checksum, so
// the structural check behind the checksum is what has to catch it.
func signHeader(b []byte) {
	binary.BigEndian.PutUint32(b[headerCRCAt:], crc(b[:headerCRCAt]))
}

func signFooter(b []byte) {
	f := b[len(b)-FooterSize:]
	binary.BigEndian.PutUint32(f[footerCRCAt:], crc(f[:footerCRCAt]))
}

func signIndex(b []byte) {
	l := layoutOf(b)
	binary.BigEndian.PutUint32(b[len(b)-FooterSize+32:], crc(b[l.indexOff:l.indexOff+l.indexLen]))
	signFooter(b)
}

func signState(b []byte) {
	l := layoutOf(b)
	binary.BigEndian.PutUint32(b[len(b)-FooterSize+12:], crc(b[l.stateOff:l.indexOff]))
	signFooter(b)
}

func TestStructuralDamage(t *testing.T) {
	_, orig := smallSnapshot(t)
	l := layoutOf(orig)
	foot := l.size - FooterSize
	pageEntry := func(k int) int { return l.indexOff + l.chunks*ChunkEntrySize + k*PageEntrySize }
	put64 := func(b []byte, at int, v uint64) { binary.BigEndian.PutUint64(b[at:], v) }
	put32 := func(b []byte, at int, v uint32) { binary.BigEndian.PutUint32(b[at:], v) }
	tests := []struct {
		name   string
		damage func(b []byte)
		op     func(string) error
		want   string
	}{
		{"header page count absurd", func(b []byte) { put64(b, 24, 1<<62); signHeader(b) }, verifyOp, "page count"},
		{"header page count off by one", func(b []byte) { put64(b, 24, binary.BigEndian.Uint64(b[24:])+1); signHeader(b) }, verifyOp, "index length"},
		{"header zero pages per chunk", func(b []byte) { put32(b, 12, 0); signHeader(b) }, verifyOp, "pages per chunk"},
		{"header huge pages per chunk", func(b []byte) { put32(b, 12, 1<<30); signHeader(b) }, verifyOp, "pages per chunk"},
		{"header witness length", func(b []byte) { put32(b, 64, 1<<31); signHeader(b) }, verifyOp, "witness length"},
		{"header claim", func(b []byte) { b[40] ^= 1; signHeader(b) }, verifyOp, "state hash"},
		{"header future version", func(b []byte) { b[9] = 9; signHeader(b) }, verifyOp, "format version"},
		{"header cannon version", func(b []byte) { b[11] = 5; signHeader(b) }, verifyOp, "cannon state version"},
		{"footer index length absurd", func(b []byte) { put64(b, foot+24, 1<<62); signFooter(b) }, verifyOp, "index length"},
		{"footer index offset absurd", func(b []byte) { put64(b, foot+16, 1<<63); signFooter(b) }, verifyOp, "index"},
		{"footer state length absurd", func(b []byte) { put32(b, foot+8, 1<<31); signFooter(b) }, verifyOp, "state length"},
		{"footer state offset shifted", func(b []byte) { put64(b, foot, uint64(l.stateOff+1)); signFooter(b) }, verifyOp, "state section"},
		{"chunk frame length absurd", func(b []byte) { put32(b, l.indexOff+8, 1<<31); signIndex(b) }, verifyOp, "frame length"},
		{"chunk offset shifted", func(b []byte) {
			put64(b, l.indexOff+ChunkEntrySize, binary.BigEndian.Uint64(b[l.indexOff+ChunkEntrySize:])+1)
			signIndex(b)
		}, verifyOp, "previous chunk ends"},
		{"chunk frame crc", func(b []byte) { b[l.indexOff+12] ^= 1; signIndex(b) }, verifyOp, "frame crc32c"},
		{"chunk data crc", func(b []byte) { b[l.indexOff+16] ^= 1; signIndex(b) }, loadOp, "data crc32c"},
		{"duplicate page in index", func(b []byte) { copy(b[pageEntry(2):pageEntry(2)+8], b[pageEntry(1):]); signIndex(b) }, loadOp, "duplicate page"},
		{"page beyond address space", func(b []byte) { put64(b, pageEntry(0), 1<<60); signIndex(b) }, loadOp, "address space"},
		{"page root", func(b []byte) { b[pageEntry(3)+8] ^= 1; signIndex(b) }, verifyOp, "hashes to"},
		{"page moved", func(b []byte) { put64(b, pageEntry(5), 0x123456); signIndex(b) }, verifyOp, "memory root"},
		{"state thread count absurd", func(b []byte) { put64(b, l.stateOff+stateFixedSize, 1<<50); signState(b) }, loadOp, "thread count"},
		{"state disagrees with witness", func(b []byte) { b[l.stateOff+40] ^= 1; signState(b) }, loadOp, "does not match"},
		{"state bad boolean", func(b []byte) { b[l.stateOff+66] = 7; signState(b) }, loadOp, "cannon cannot decode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := filepath.Join(t.TempDir(), "bad.snap")
			b := bytes.Clone(orig)
			tt.damage(b)
			if err := os.WriteFile(bad, b, 0o644); err != nil {
				t.Fatal(err)
			}
			err := tt.op(bad)
			mustFailNaming(t, err, bad)
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

func verifyOp(path string) error { return Verify(path) }

func loadOp(path string) error {
	_, err := Load(path, Options{})
	return err
}

// TestWriteFaults checks that a failed write leaves the previous file
// untouched and no temp file behind, for a fault at every step.
func TestWriteFaults(t *testing.T) {
	vs := testState(9, 40)
	for _, op := range []string{"create", "write", "writeat", "chmod", "sync", "close", "rename", "syncdir"} {
		t.Run(op, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "state.snap")
			old := []byte("previous snapshot")
			if err := os.WriteFile(path, old, 0o644); err != nil {
				t.Fatal(err)
			}
			fs := &faultfs.FS{Op: op, WriteAfter: HeaderSize + PageSize}
			err := Write(path, vs, Options{PagesPerChunk: 2, FS: fs})
			if !errors.Is(err, faultfs.ErrInjected) || !strings.Contains(err.Error(), path) {
				t.Fatalf("error %v, want the injected fault naming %s", err, path)
			}
			if fs.Hits == 0 {
				t.Fatal("fault never triggered")
			}
			ents, _ := os.ReadDir(dir)
			if len(ents) != 1 {
				t.Errorf("files left behind: %v", ents)
			}
			got := readFile(t, path)
			if op == "syncdir" {
				// Renamed into place; only its durability is in doubt.
				if err := Verify(path); err != nil {
					t.Error(err)
				}
			} else if !bytes.Equal(got, old) {
				t.Error("a failed write changed the target")
			}
		})
	}
}

func TestToCannonFaults(t *testing.T) {
	dir := t.TempDir()
	snap := writeSnapshot(t, dir, testState(2, 10), Options{})
	out := filepath.Join(dir, "out.bin.gz")
	if err := ToCannon(snap, out, Options{FS: &faultfs.FS{Op: "write", WriteAfter: HeaderSize + PageSize}}); !errors.Is(err, faultfs.ErrInjected) {
		t.Fatalf("error %v, want the injected fault", err)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Error("failed conversion left output")
	}
}

// resign repairs every checksum of b it can locate, and the claim and
// step the witness implies, so that fuzzed damage reaches the structural
// checks behind the checksums.
func resign(b []byte) []byte {
	b = bytes.Clone(b)
	if len(b) < HeaderSize+FooterSize {
		return b
	}
	size := uint64(len(b))
	if binary.BigEndian.Uint32(b[64:]) == multithreaded.STATE_WITNESS_SIZE {
		w := b[68 : 68+multithreaded.STATE_WITNESS_SIZE]
		claim, _ := multithreaded.StateWitness(w).StateHash()
		copy(b[32:64], claim[:])
		copy(b[16:24], w[multithreaded.STEP_WITNESS_OFFSET:])
	}
	signHeader(b)
	f := b[size-FooterSize:]
	if so, sl := binary.BigEndian.Uint64(f[0:]), uint64(binary.BigEndian.Uint32(f[8:])); so <= size && sl <= size-so {
		binary.BigEndian.PutUint32(f[12:], crc(b[so:so+sl]))
	}
	if io, il := binary.BigEndian.Uint64(f[16:]), binary.BigEndian.Uint64(f[24:]); io <= size && il <= size-io {
		index := b[io : io+il]
		pages, ppc := binary.BigEndian.Uint64(b[24:]), uint64(binary.BigEndian.Uint32(b[12:]))
		if ppc > 0 && pages <= size {
			for c := uint64(0); c < (pages+ppc-1)/ppc && (c+1)*ChunkEntrySize <= il; c++ {
				e := index[c*ChunkEntrySize:]
				if off, n := binary.BigEndian.Uint64(e), uint64(binary.BigEndian.Uint32(e[8:])); off <= size && n <= size-off {
					binary.BigEndian.PutUint32(e[12:], crc(b[off:off+n]))
				}
			}
		}
		binary.BigEndian.PutUint32(f[32:], crc(index))
	}
	signFooter(b)
	return b
}

func FuzzRead(f *testing.F) {
	_, valid := smallSnapshot(f)
	f.Add(valid)
	f.Add(valid[:len(valid)/2])
	empty := readFile(f, writeSnapshot(f, f.TempDir(), testState(1, 0), Options{}))
	f.Add(empty)
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		for k, in := range [][]byte{b, resign(b)} {
			path := filepath.Join(dir, fmt.Sprintf("f%d.snap", k))
			if err := os.WriteFile(path, in, 0o644); err != nil {
				t.Fatal(err)
			}
			checkReadable(t, path)
		}
	})
}

// checkReadable runs every reader on path; none may panic, and a file that
// verifies must be a state Cannon agrees with.
func checkReadable(t *testing.T, path string) {
	info, err := ReadInfo(path)
	if err != nil {
		return
	}
	if r, err := Open(path); err == nil {
		r.ReadPage(0)
		r.Close()
	}
	_, loadErr := Load(path, Options{})
	if Verify(path) != nil {
		return
	}
	if loadErr != nil {
		t.Fatalf("verified file does not load: %v", loadErr)
	}
	out := path + ".bin"
	if err := ToCannon(path, out, Options{}); err != nil {
		t.Fatalf("verified file does not convert: %v", err)
	}
	st, err := versions.LoadStateFromFile(out)
	if err != nil {
		t.Fatalf("cannon cannot load the conversion: %v", err)
	}
	if _, claim := st.EncodeWitness(); claim != info.Claim {
		t.Fatalf("claim %s, cannon computes %s", info.Claim, claim)
	}
}

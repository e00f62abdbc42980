package snapshot

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/ethereum-optimism/optimism/cannon/mipsevm/versions"
)

// allocated is how many bytes fn allocates on the heap.
func allocated(t *testing.T, fn func() error) uint64 {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if err := fn(); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestMemoryIsBounded checks that no operation materializes a second copy
// of guest memory: streaming ones allocate well under the guest's size,
// and Load no more than Cannon's own loader.
func TestMemoryIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("hashes 32 MiB several times")
	}
	const pages = 8192
	const guest = pages * PageSize
	vs := testState(4, pages)
	dir := t.TempDir()
	snap := filepath.Join(dir, "s.snap")
	bin := filepath.Join(dir, "s.bin.gz")
	streaming := []struct {
		name string
		fn   func() error
	}{
		{"Write", func() error { return Write(snap, vs, Options{}) }},
		{"Verify", func() error { return Verify(snap) }},
		{"ToCannon", func() error { return ToCannon(snap, bin, Options{}) }},
		{"FromCannon", func() error { return FromCannon(bin, filepath.Join(dir, "t.snap"), Options{}) }},
	}
	for _, op := range streaming {
		if got := allocated(t, op.fn); got > guest/2 {
			t.Errorf("%s allocated %d MiB for a %d MiB guest", op.name, got>>20, guest>>20)
		}
	}
	cannon := allocated(t, func() error { _, err := versions.LoadStateFromFile(bin); return err })
	if got := allocated(t, func() error { _, err := Load(snap, Options{}); return err }); got > cannon+8<<20 {
		t.Errorf("Load allocated %d MiB, cannon's loader %d MiB", got>>20, cannon>>20)
	}
}

// TestMemoryLimit checks that every reader that builds a state, or writes
// one that loads into it, refuses a state whose pages cost more than
// MaxMemoryBytes, naming the file and the page count's offset, and accepts
// one that costs exactly the limit.
func TestMemoryLimit(t *testing.T) {
	const pages = 9
	vs := testState(6, pages)
	dir := t.TempDir()
	bin := cannonFile(t, dir, "s.bin", vs)
	gz := cannonFile(t, dir, "s.bin.gz", vs)
	snap := writeSnapshot(t, dir, vs, Options{})
	readCannon := func(path string) func(Options) error {
		return func(o Options) error {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			fi, err := f.Stat()
			if err != nil {
				return err
			}
			_, err = ReadCannon(path, f, fi.Size(), o)
			return err
		}
	}
	tests := []struct {
		name, path string
		off        int
		read       func(Options) error
	}{
		{"ReadCannon bin", bin, 1, readCannon(bin)},
		{"ReadCannon gz", gz, 1, readCannon(gz)},
		{"FromCannon", gz, 1, func(o Options) error { return FromCannon(gz, filepath.Join(dir, "from.snap"), o) }},
		{"Load", snap, offPageCount, func(o Options) error { _, err := Load(snap, o); return err }},
		{"ToCannon", snap, offPageCount, func(o Options) error { return ToCannon(snap, filepath.Join(dir, "to.bin"), o) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.read(Options{MaxMemoryBytes: pages*PageMemoryCost - 1})
			if !errors.Is(err, ErrMemoryLimit) {
				t.Fatalf("one byte under the cost: %v, want ErrMemoryLimit", err)
			}
			mustFailNaming(t, err, tt.path)
			if got := errOffset(t, err); got != tt.off {
				t.Errorf("error names offset %d, want %d (the page count)", got, tt.off)
			}
			if err := tt.read(Options{MaxMemoryBytes: pages * PageMemoryCost}); err != nil {
				t.Errorf("at exactly the cost: %v", err)
			}
		})
	}
}

// rssChildEnv, when set, makes TestReadCannonChild read the Cannon file it
// names; rssLimitEnv is the MaxMemoryBytes it reads under.
const (
	rssChildEnv = "SNAPSHOT_TEST_RSS_FILE"
	rssLimitEnv = "SNAPSHOT_TEST_RSS_LIMIT"
)

// rssOverhead is what a process reading a state needs besides the state's
// pages: the test binary and Go runtime (9 MiB resident), 2 MiB of read
// buffers, gzip's window, the state section (a few KiB here, at most
// MaxStateSize). Peak RSS must stay under MaxMemoryBytes plus this.
const rssOverhead = 32 << 20

// TestReadCannonPeakRSS reads, in a child process so that its peak RSS
// (VmHWM) is its own, a 1 GiB Cannon stream gzipped to a few MB under a
// 64 MiB ceiling, which must be refused at the page count, and a state
// that just fits, which must load and hash. Both must peak under the
// ceiling plus rssOverhead: the second shows PageMemoryCost is what a page
// really costs.
func TestReadCannonPeakRSS(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads VmHWM from /proc")
	}
	if testing.Short() {
		t.Skip("compresses 1 GiB")
	}
	const limit = 64 << 20
	dir := t.TempDir()
	state := stateSection(t)

	bombPages := uint64(1 << 18)
	bomb := filepath.Join(dir, "bomb.bin.gz")
	writeCannonGz(t, bomb, bombPages, func(i uint64) uint64 { return i }, state)
	fi, err := os.Stat(bomb)
	if err != nil {
		t.Fatal(err)
	}
	if raw := bombPages * cannonPageSz; fi.Size() > 8<<20 || raw < 2*limit {
		t.Fatalf("fixture: %d bytes of gzip for %d decompressed; want a few MB for many times the ceiling", fi.Size(), raw)
	}
	out, hwm := readInChild(t, bomb, limit)
	if !strings.Contains(out, "err ") || !strings.Contains(out, bomb+": offset 1:") || !strings.Contains(out, ErrMemoryLimit.Error()) {
		t.Errorf("a %d-byte file of %d pages under a %d-byte ceiling: %q, want the memory limit at offset 1", fi.Size(), bombPages, limit, out)
	}
	t.Logf("refusing %d MiB of gzip for %d MiB of pages peaked at %d MiB resident", fi.Size()>>20, bombPages*PageSize>>20, hwm>>20)
	if hwm > limit+rssOverhead {
		t.Errorf("refusing it peaked at %d MiB resident, over the ceiling plus overhead %d MiB", hwm>>20, (limit+rssOverhead)>>20)
	}

	// Scattered pages share the fewest Merkle tree nodes, the most a page costs.
	fitPages := uint64(limit / PageMemoryCost)
	fits := filepath.Join(dir, "fits.bin.gz")
	writeCannonGz(t, fits, fitPages, func(i uint64) uint64 { return i * 0x9E3779B97F4A7C15 >> 12 }, state)
	out, hwm = readInChild(t, fits, limit)
	if want := fmt.Sprintf("ok %d pages", fitPages); !strings.Contains(out, want) {
		t.Fatalf("a state of %d pages under a ceiling of %d bytes: %q, want %q", fitPages, limit, out, want)
	}
	t.Logf("%d scattered pages (%d MiB of ceiling) peaked at %d MiB resident", fitPages, limit>>20, hwm>>20)
	if hwm > limit+rssOverhead {
		t.Errorf("loading %d pages peaked at %d MiB resident, over the ceiling plus overhead %d MiB", fitPages, hwm>>20, (limit+rssOverhead)>>20)
	}
}

// TestReadCannonChild is the child of TestReadCannonPeakRSS: it reads the
// file, hashes the state as a first witness would, and prints the outcome
// and its peak RSS.
func TestReadCannonChild(t *testing.T) {
	path := os.Getenv(rssChildEnv)
	if path == "" {
		t.Skip("run by TestReadCannonPeakRSS")
	}
	limit, err := strconv.ParseInt(os.Getenv(rssLimitEnv), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	vs, err := ReadCannon(path, f, fi.Size(), Options{MaxMemoryBytes: limit})
	if err != nil {
		fmt.Printf("rss-child: err %v\n", err)
	} else {
		vs.EncodeWitness()
		fmt.Printf("rss-child: ok %d pages\n", vs.GetMemory().PageCount())
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		if strings.HasPrefix(line, "VmHWM:") {
			fmt.Printf("rss-child: %s", line)
		}
	}
}

// readInChild runs TestReadCannonChild on path and returns what it printed
// and its peak RSS in bytes.
func readInChild(t *testing.T, path string, limit int64) (string, int64) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestReadCannonChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), rssChildEnv+"="+path, fmt.Sprintf("%s=%d", rssLimitEnv, limit))
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, b)
	}
	out := string(b)
	_, rest, ok := strings.Cut(out, "rss-child: VmHWM:")
	if !ok {
		t.Fatalf("child printed no VmHWM:\n%s", out)
	}
	kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.Fields(rest)[0], "kB")), 10, 64)
	if err != nil {
		t.Fatalf("child's VmHWM: %v\n%s", err, out)
	}
	return out, kb << 10
}

// stateSection is the bytes Cannon writes after memory for a small state.
func stateSection(t *testing.T) []byte {
	t.Helper()
	b := cannonBytes(t, testState(7, 0))
	return b[1+emptyMemorySize:]
}

// writeCannonGz writes a gzipped Cannon state file of zero pages with the
// given indices, streamed so the test never holds the decompressed bytes.
func writeCannonGz(t *testing.T, path string, pages uint64, index func(uint64) uint64, state []byte) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw, err := gzip.NewWriterLevel(f, gzip.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	bw := bufio.NewWriterSize(zw, 1<<20)
	bw.WriteByte(byte(versions.GetCurrentVersion()))
	binary.Write(bw, binary.BigEndian, pages)
	entry := make([]byte, cannonPageSz)
	for i := range pages {
		binary.BigEndian.PutUint64(entry, index(i))
		entry[8+i%PageSize] = byte(i) | 1 // not all zero, as a real page
		bw.Write(entry)
		entry[8+i%PageSize] = 0
	}
	bw.Write(state)
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
}

package snapshot

import (
	"path/filepath"
	"runtime"
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
		{"ToCannon", func() error { return ToCannon(snap, bin) }},
		{"FromCannon", func() error { return FromCannon(bin, filepath.Join(dir, "t.snap"), Options{}) }},
	}
	for _, op := range streaming {
		if got := allocated(t, op.fn); got > guest/2 {
			t.Errorf("%s allocated %d MiB for a %d MiB guest", op.name, got>>20, guest>>20)
		}
	}
	cannon := allocated(t, func() error { _, err := versions.LoadStateFromFile(bin); return err })
	if got := allocated(t, func() error { _, err := Load(snap); return err }); got > cannon+8<<20 {
		t.Errorf("Load allocated %d MiB, cannon's loader %d MiB", got>>20, cannon>>20)
	}
}

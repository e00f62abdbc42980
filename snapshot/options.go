package snapshot

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/klauspost/compress/zstd"

	"github.com/proofd/proofd/atomicfile"
)

// Options tune how snapshots are written. The zero value is a good
// default. Options is a plain value: a copy is a clone. Callers fill it,
// then EnsureDefaults, then Validate; every function taking Options does
// the last two on its own copy.
type Options struct {
	// PagesPerChunk is how many 4 KiB pages share one zstd frame
	// (default 64; at most MaxPagesPerChunk).
	PagesPerChunk int
	// Workers bounds the goroutines that hash and compress chunks
	// (default GOMAXPROCS). At most 2*Workers+2 chunks are in memory at once.
	Workers int
	// Level is the zstd level (default zstd.SpeedDefault: on guest memory it
	// makes files up to 4% smaller than SpeedFastest (1.9% on mixed pages) and writes no slower,
	// because hashing, not compression, is a write's bottleneck).
	Level zstd.EncoderLevel
	// FS is where files are written (default the OS); tests inject faults here.
	FS atomicfile.FS
	// MaxMemoryBytes bounds the host memory a state's pages may take once
	// loaded, each page charged PageMemoryCost (default
	// DefaultMaxMemoryBytes). Load and ReadCannon, which build the state in
	// memory, and FromCannon and ToCannon, which stream it but write a file
	// that loads into it, refuse a larger state with ErrMemoryLimit as soon
	// as they read its page count, before any page: a few megabytes of gzip
	// or of zstd cannot make a reader allocate gigabytes. A caller with a
	// memory budget (the VM engine) passes it here.
	MaxMemoryBytes int64
	// Progress, if set, is told how many bytes of the input file
	// FromCannon and ToCannon (so Convert) have read so far, from the
	// converting goroutine, ending with the file's size on success. It must
	// be quick; it does not change the output.
	Progress func(read int64)
}

const (
	defaultPagesPerChunk = 64

	// DefaultMaxMemoryBytes is MaxMemoryBytes when unset: 8 GiB, which
	// holds 2 GiB of guest memory.
	DefaultMaxMemoryBytes = 8 << 30

	// PageMemoryCost is what one page of a loaded state may cost in host
	// memory once Cannon has hashed it for a witness, rounded up: its 4 KiB
	// of data, Cannon's CachedPage with its 4 KiB hash cache (a 4,864-byte
	// allocation), and Cannon's map entries and hashes for the page and
	// its Merkle tree path. Measured peak RSS (TestReadCannonPeakRSS) is
	// 9 KiB a page for contiguous pages and 13.5 KiB for scattered ones,
	// whose tree paths share fewest nodes. So a process that loads a state
	// peaks under MaxMemoryBytes plus its own baseline, 2 MiB of read
	// buffers and the state section (at most MaxStateSize).
	PageMemoryCost = 16 << 10
)

// EnsureDefaults fills every unset option with its default.
func (o *Options) EnsureDefaults() {
	if o.PagesPerChunk == 0 {
		o.PagesPerChunk = defaultPagesPerChunk
	}
	if o.Workers == 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Level == 0 {
		o.Level = zstd.SpeedDefault
	}
	if o.FS == nil {
		o.FS = atomicfile.OSFS{}
	}
	if o.MaxMemoryBytes == 0 {
		o.MaxMemoryBytes = DefaultMaxMemoryBytes
	}
}

// Validate reports every invalid option at once; it checks options that
// EnsureDefaults has filled.
func (o *Options) Validate() error {
	var errs []error
	if o.PagesPerChunk < 1 || o.PagesPerChunk > MaxPagesPerChunk {
		errs = append(errs, fmt.Errorf("PagesPerChunk %d: want 1..%d", o.PagesPerChunk, MaxPagesPerChunk))
	}
	if o.Workers < 1 {
		errs = append(errs, fmt.Errorf("Workers %d: want at least 1", o.Workers))
	}
	if o.Level < zstd.SpeedFastest || o.Level > zstd.SpeedBestCompression {
		errs = append(errs, fmt.Errorf("Level %d: want a zstd.EncoderLevel", o.Level))
	}
	if o.FS == nil {
		errs = append(errs, errors.New("FS: nil"))
	}
	if o.MaxMemoryBytes < PageMemoryCost {
		errs = append(errs, fmt.Errorf("MaxMemoryBytes %d: want at least one page's cost, %d", o.MaxMemoryBytes, PageMemoryCost))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("snapshot options: %w", err)
	}
	return nil
}

// checkMemory refuses a state of pages pages that would take more than
// limit bytes once loaded; off is where the file gives the page count.
func checkMemory(path string, off int64, pages uint64, limit int64) error {
	if fit := uint64(limit) / PageMemoryCost; pages > fit {
		return fmt.Errorf("%s: offset %d: %d pages, at most %d fit in the memory limit of %d bytes at %d bytes a page once loaded: %w",
			path, off, pages, fit, limit, PageMemoryCost, ErrMemoryLimit)
	}
	return nil
}

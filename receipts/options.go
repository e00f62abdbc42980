package receipts

import (
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Options configure a Store. The zero value is usable: Open fills defaults
// with EnsureDefaults and then checks them with Validate.
type Options struct {
	// FS is the filesystem every file goes through; tests pass a wrapper to
	// count or inject faults. Default vfs.Default.
	FS vfs.FS
	// CacheSize is pebble's block cache in bytes. Default 8 MiB.
	CacheSize int64
	// MemTableSize is pebble's memtable size in bytes. Default 4 MiB; at
	// most MaxMemTableSize.
	MemTableSize int64
	// MaxProofBytes and MaxPublicBytes bound what Put accepts.
	// Defaults 64 MiB and 16 MiB.
	MaxProofBytes  int
	MaxPublicBytes int
	// Logger receives pebble's messages. Default: errors to
	// pebble.DefaultLogger, routine information (WAL recovery on every
	// open) dropped.
	Logger pebble.Logger
	// Now stamps a receipt put with a zero Created. Default time.Now.
	Now func() time.Time
	// MustExist makes Open fail on a directory that holds no store instead
	// of creating one there (for operators' tools, where a typo must not
	// leave an empty store behind).
	MustExist bool
	// Hooks observe writes (receipts/receiptmetrics adapts them).
	Hooks Hooks
}

// Hooks observe a Store's writes. Every field is optional; each is called
// synchronously, after the write, by the goroutine that wrote, so keep them
// cheap (a Prune hook may read Stats: prunes are rare).
type Hooks struct {
	// Put reports each write Put made to the database: the receipt's kind,
	// the bytes of its key and value (as Stats counts them), how long the
	// durable write took, and its error. A Put refused before writing (bad
	// key, too large, closed store, cancelled context) is not reported.
	Put func(kind Kind, bytes int, d time.Duration, err error)
	// Prune reports each Prune that reached the database.
	Prune func(through uint64, d time.Duration, err error)
}

// MaxMemTableSize is pebble's limit on the memtable size.
const MaxMemTableSize = 4<<30 - 1

// EnsureDefaults fills every zero field with its default and returns o.
func (o *Options) EnsureDefaults() *Options {
	if o.FS == nil {
		o.FS = vfs.Default
	}
	if o.CacheSize == 0 {
		o.CacheSize = 8 << 20
	}
	if o.MemTableSize == 0 {
		o.MemTableSize = 4 << 20
	}
	if o.MaxProofBytes == 0 {
		o.MaxProofBytes = 64 << 20
	}
	if o.MaxPublicBytes == 0 {
		o.MaxPublicBytes = 16 << 20
	}
	if o.Logger == nil {
		o.Logger = quietLogger{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Validate reports every problem with the options at once.
func (o *Options) Validate() error {
	var errs []error
	if o.FS == nil {
		errs = append(errs, errors.New("receipts options: FS is nil"))
	}
	if o.CacheSize < 0 {
		errs = append(errs, fmt.Errorf("receipts options: CacheSize %d is negative", o.CacheSize))
	}
	if o.MemTableSize < 0 || o.MemTableSize > MaxMemTableSize {
		errs = append(errs, fmt.Errorf("receipts options: MemTableSize %d is negative or over %d", o.MemTableSize, MaxMemTableSize))
	}
	for _, m := range []struct {
		name string
		n    int
	}{{"MaxProofBytes", o.MaxProofBytes}, {"MaxPublicBytes", o.MaxPublicBytes}} {
		// The value stores lengths as u32.
		if m.n < 0 || uint64(m.n) > 1<<32-1 {
			errs = append(errs, fmt.Errorf("receipts options: %s %d is negative or over %d", m.name, m.n, uint64(1<<32-1)))
		}
	}
	if o.Logger == nil {
		errs = append(errs, errors.New("receipts options: Logger is nil"))
	}
	if o.Now == nil {
		errs = append(errs, errors.New("receipts options: Now is nil"))
	}
	return errors.Join(errs...)
}

// quietLogger drops pebble's routine messages and keeps its errors.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any) {}

func (quietLogger) Errorf(format string, args ...any) { pebble.DefaultLogger.Errorf(format, args...) }

func (quietLogger) Fatalf(format string, args ...any) { pebble.DefaultLogger.Fatalf(format, args...) }

package artcache

import (
	"errors"
	"fmt"
	"time"

	"github.com/proofd/proofd/artifact"
)

// The budgets an Options field of 0 stands for.
const (
	DefaultDiskBytes int64 = 4 << 30
	DefaultMemBytes  int64 = 512 << 20
)

// Options configure a Cache. The zero value of a budget means its default.
type Options struct {
	Dir       string // the on-disk cache, created 0700 if missing; files named by digest hex
	DiskBytes int64  // budget on disk; 0 means DefaultDiskBytes
	MemBytes  int64  // budget of verified artifacts kept in memory; 0 means DefaultMemBytes
	Hooks     Hooks
}

// Hooks observe the cache. All are optional and called without the cache's
// lock held, so a hook may call the cache. The hooks for a Get's load have
// all returned by the time the Gets that waited for it return.
type Hooks struct {
	Hit     func(d artifact.Digest, where string) // where: "memory" or "disk"
	Fetched func(d artifact.Digest, bytes int, took time.Duration)
	Evicted func(d artifact.Digest, bytes int64, where string)
	// Corrupt reports a disk copy that could not be read or failed its
	// digest; it is removed and fetched again.
	Corrupt func(d artifact.Digest, path string, err error)
	// DiskError reports a best-effort file operation that failed (removing
	// an evicted file, recording a use in a file's mtime). The cache goes
	// on: the file is out of its account, or its order after a restart is
	// stale.
	DiskError func(path string, err error)
}

// WithDefaults returns o with every zero budget replaced by its default.
func (o Options) WithDefaults() Options {
	if o.DiskBytes == 0 {
		o.DiskBytes = DefaultDiskBytes
	}
	if o.MemBytes == 0 {
		o.MemBytes = DefaultMemBytes
	}
	return o
}

// Validate reports every field that is wrong, all at once.
func (o Options) Validate() error {
	var errs []error
	if o.Dir == "" {
		errs = append(errs, errors.New("artcache: Dir is empty"))
	}
	if o.DiskBytes < 0 {
		errs = append(errs, fmt.Errorf("artcache: DiskBytes is %d, want 0 (the default) or more", o.DiskBytes))
	}
	if o.MemBytes < 0 {
		errs = append(errs, fmt.Errorf("artcache: MemBytes is %d, want 0 (the default) or more", o.MemBytes))
	}
	return errors.Join(errs...)
}

func (h Hooks) hit(d artifact.Digest, where string) {
	if h.Hit != nil {
		h.Hit(d, where)
	}
}

func (h Hooks) fetched(d artifact.Digest, n int, took time.Duration) {
	if h.Fetched != nil {
		h.Fetched(d, n, took)
	}
}

func (h Hooks) evicted(evs []eviction) {
	if h.Evicted == nil {
		return
	}
	for _, e := range evs {
		h.Evicted(e.d, e.size, e.where)
	}
}

func (h Hooks) corrupt(d artifact.Digest, path string, err error) {
	if h.Corrupt != nil {
		h.Corrupt(d, path, err)
	}
}

func (h Hooks) diskError(path string, err error) {
	if h.DiskError != nil {
		h.DiskError(path, err)
	}
}

package artcache

import (
	"bytes"
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/atomicfile"
)

// Source fetches an artifact's bytes by digest (the JetStream object store,
// on a worker).
type Source interface {
	// Fetch returns the bytes named by d; the cache checks that they hash
	// to d. It should return when ctx is done.
	Fetch(ctx context.Context, d artifact.Digest) ([]byte, error)
}

// ErrDigestMismatch is wrapped by the errors about bytes that do not hash to
// the digest they were fetched or stored under.
var ErrDigestMismatch = errors.New("digest mismatch")

// Cache holds artifacts by digest in memory and in a directory, each tier
// within its byte budget. It is safe for concurrent use. Only one Cache at a
// time may use a directory.
type Cache struct {
	dir   string
	hooks Hooks

	mu      sync.Mutex
	mem     *lru
	data    map[artifact.Digest][]byte // the bytes of mem's entries
	disk    *lru                       // the files in dir that are the cache
	flights map[artifact.Digest]*flight
	stats   Stats
}

// flight is the one load of a digest under way, shared by the Gets that
// wait for it. There is at most one per digest, so only its flight reads,
// writes or removes a digest's file (eviction aside, which holds the lock).
type flight struct {
	done   chan struct{} // closed once art and err are set
	art    artifact.Artifact
	err    error
	cancel context.CancelFunc

	// Guarded by Cache.mu.
	waiters   int
	abandoned bool // every waiter left, so the load is being cancelled
}

// Stats are the cache's sizes and its counts of events since Open.
type Stats struct {
	MemBytes, DiskBytes                            int64
	MemItems, DiskItems                            int
	Fetches, MemHits, DiskHits, Corrupt, Evictions int64
}

// eviction is an entry dropped from a tier, for Hooks.Evicted; err is a
// failure to remove its file, for Hooks.DiskError.
type eviction struct {
	d     artifact.Digest
	size  int64
	where string
	err   error
}

// Open opens the cache in opts.Dir, creating the directory if missing. It
// counts the files named by a digest, the least recently used first (by
// modification time), evicting the oldest at once if they exceed the disk
// budget, and removes the temp files a crash left. Other files are left
// alone. Files are not hashed here but on first read.
func Open(opts Options) (*Cache, error) {
	opts = opts.WithDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("artcache: %w", err)
	}
	files, err := scan(opts.Dir)
	if err != nil {
		return nil, err
	}
	c := &Cache{
		dir:     opts.Dir,
		hooks:   opts.Hooks,
		mem:     newLRU(opts.MemBytes),
		data:    make(map[artifact.Digest][]byte),
		disk:    newLRU(opts.DiskBytes),
		flights: make(map[artifact.Digest]*flight),
	}
	var evs []eviction
	for _, f := range files {
		if !c.disk.fits(f.size) {
			evs = append(evs, c.evictFiles([]entry{{f.d, f.size}})...)
			continue
		}
		evs = append(evs, c.evictFiles(c.disk.add(f.d, f.size))...)
	}
	c.report(evs)
	return c, nil
}

// Get returns the artifact with digest d: from memory, else from disk (its
// bytes hashed again: a file that does not hash to d is removed, reported
// to Hooks.Corrupt and fetched again), else fetched from src. Fetched bytes
// that do not hash to d are an error wrapping ErrDigestMismatch, and nothing
// is kept; bytes that do are written to disk atomically and kept in memory.
// An artifact larger than a tier's budget is returned but not kept there.
//
// Concurrent Gets of one digest share one load, made with the first one's
// src. A Get whose ctx is done returns its error at once; the load goes on
// while any Get waits for it, and is cancelled when none does.
//
// The returned Data is shared with the cache and other callers: it must not
// be modified.
func (c *Cache) Get(ctx context.Context, d artifact.Digest, src Source) (artifact.Artifact, error) {
	for {
		c.mu.Lock()
		if data, ok := c.data[d]; ok {
			c.mem.touch(d)
			onDisk := c.disk.touch(d)
			c.stats.MemHits++
			c.mu.Unlock()
			c.used(d, onDisk, "memory")
			return artifact.Artifact{Digest: d, Data: data}, nil
		}
		f := c.flights[d]
		if f != nil && f.abandoned {
			// Let the cancelled load end rather than run two loads of
			// one file at once; then look again.
			c.mu.Unlock()
			select {
			case <-f.done:
				continue
			case <-ctx.Done():
				return artifact.Artifact{}, gaveUp(ctx, d)
			}
		}
		if f == nil {
			f = c.start(ctx, d, src)
		}
		f.waiters++
		c.mu.Unlock()
		select {
		case <-f.done:
			return f.art, f.err
		case <-ctx.Done():
			c.leave(f)
			return artifact.Artifact{}, gaveUp(ctx, d)
		}
	}
}

// gaveUp is the error of a Get whose ctx was done first.
func gaveUp(ctx context.Context, d artifact.Digest) error {
	return fmt.Errorf("get artifact %s: %w", d.Short(), context.Cause(ctx))
}

// Holds reports whether d is in memory or on disk, without fetching.
func (c *Cache) Holds(d artifact.Digest) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mem.has(d) || c.disk.has(d)
}

// Stats returns the tiers' sizes and the counts of events since Open.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.MemBytes, s.MemItems = c.mem.bytes, c.mem.len()
	s.DiskBytes, s.DiskItems = c.disk.bytes, c.disk.len()
	return s
}

// start begins the load of d. Its context keeps ctx's values but not its
// cancellation, since the load serves every waiter, not only the first.
// Called with c.mu held.
func (c *Cache) start(ctx context.Context, d artifact.Digest, src Source) *flight {
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	f := &flight{done: make(chan struct{}), cancel: cancel}
	c.flights[d] = f
	go c.load(lctx, d, src, f)
	return f
}

// leave takes a waiter off f, cancelling its load if it was the last.
func (c *Cache) leave(f *flight) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f.waiters--
	if f.waiters == 0 {
		f.abandoned = true
		f.cancel()
	}
}

// load brings d in from disk, else from src, keeps it in memory and hands
// it to f's waiters.
func (c *Cache) load(ctx context.Context, d artifact.Digest, src Source, f *flight) {
	defer f.cancel()
	data, ok := c.fromDisk(d)
	var err error
	if !ok {
		data, err = c.fetch(ctx, d, src)
	}
	var evs []eviction
	c.mu.Lock()
	if err == nil {
		evs = c.keepInMemory(d, data)
		f.art = artifact.Artifact{Digest: d, Data: data}
	}
	f.err = err
	delete(c.flights, d)
	c.mu.Unlock()
	c.report(evs)
	close(f.done)
}

// fromDisk returns d's bytes if the disk tier holds d and its file hashes
// to d. A file that does not is removed and reported, and the caller
// fetches d again.
func (c *Cache) fromDisk(d artifact.Digest) ([]byte, bool) {
	c.mu.Lock()
	held := c.disk.has(d)
	c.mu.Unlock()
	if !held {
		return nil, false
	}
	path := c.path(d)
	data, err := readFile(path, c.disk.budget)
	if err == nil {
		if err = checkDigest(d, data); err != nil {
			err = fmt.Errorf("%s: %w", path, err)
		}
	}
	c.mu.Lock()
	if err != nil && !c.disk.has(d) {
		c.mu.Unlock()
		return nil, false // evicted while we read it: a miss, not corruption
	}
	if err != nil {
		c.disk.remove(d)
		rmErr := removeFile(path)
		c.stats.Corrupt++
		c.mu.Unlock()
		c.hooks.corrupt(d, path, err)
		if rmErr != nil {
			c.hooks.diskError(path, rmErr)
		}
		return nil, false
	}
	onDisk := c.disk.touch(d)
	c.stats.DiskHits++
	c.mu.Unlock()
	c.used(d, onDisk, "disk")
	return data, true
}

// fetch gets d's bytes from src, checks them, and writes them to disk.
func (c *Cache) fetch(ctx context.Context, d artifact.Digest, src Source) ([]byte, error) {
	c.mu.Lock()
	c.stats.Fetches++
	c.mu.Unlock()
	start := time.Now()
	data, err := src.Fetch(ctx, d)
	if err == nil {
		err = checkDigest(d, data)
	}
	if err != nil {
		return nil, fmt.Errorf("fetch artifact %s: %w", d.Short(), err)
	}
	c.hooks.fetched(d, len(data), time.Since(start))
	if data == nil {
		data = []byte{} // nil Data means "bytes not held" to artifact users
	}
	if err := c.toDisk(d, data); err != nil {
		return nil, err
	}
	return data, nil
}

// toDisk writes d's checked bytes to its file and adds it to the disk
// tier, evicting the least recently used files to fit. Bytes larger than
// the whole budget are not written.
func (c *Cache) toDisk(d artifact.Digest, data []byte) error {
	n := int64(len(data))
	if !c.disk.fits(n) {
		return nil
	}
	path := c.path(d)
	if err := atomicfile.Write(path, data, 0o600); err != nil {
		return fmt.Errorf("cache artifact %s: %w", d.Short(), err)
	}
	// The kernel stamps a write with a coarse clock; set a fine one, so
	// that files written in one tick keep their order after a restart.
	c.stamp(path)
	c.mu.Lock()
	evs := c.evictFiles(c.disk.add(d, n))
	c.mu.Unlock()
	c.report(evs)
	return nil
}

// keepInMemory adds d to the memory tier if it fits, dropping the least
// recently used others. Called with c.mu held.
func (c *Cache) keepInMemory(d artifact.Digest, data []byte) []eviction {
	n := int64(len(data))
	if !c.mem.fits(n) {
		return nil
	}
	var evs []eviction
	for _, e := range c.mem.add(d, n) {
		delete(c.data, e.d)
		c.stats.Evictions++
		evs = append(evs, eviction{e.d, e.size, "memory", nil})
	}
	c.data[d] = data
	return evs
}

// evictFiles removes the files of entries out of the disk tier. It runs
// with c.mu held (or before Open returns): removing a file after releasing
// the lock could remove one that a new load of the same digest had just
// written and accounted.
func (c *Cache) evictFiles(dropped []entry) []eviction {
	evs := make([]eviction, 0, len(dropped))
	for _, e := range dropped {
		c.stats.Evictions++
		evs = append(evs, eviction{e.d, e.size, "disk", removeFile(c.path(e.d))})
	}
	return evs
}

// used reports a hit, and records it in d's file, if any, so that the disk
// tier's order survives a restart.
func (c *Cache) used(d artifact.Digest, onDisk bool, where string) {
	if onDisk {
		c.stamp(c.path(d))
	}
	c.hooks.hit(d, where)
}

// stamp sets path's modification time to now. A file evicted meanwhile is
// no error.
func (c *Cache) stamp(path string) {
	now := time.Now()
	if err := os.Chtimes(path, now, now); err != nil && !errors.Is(err, fs.ErrNotExist) {
		c.hooks.diskError(path, err)
	}
}

func (c *Cache) report(evs []eviction) {
	c.hooks.evicted(evs)
	for _, e := range evs {
		if e.err != nil {
			c.hooks.diskError(c.path(e.d), e.err)
		}
	}
}

func (c *Cache) path(d artifact.Digest) string { return filepath.Join(c.dir, d.String()) }

// file is a cache file found by Open.
type file struct {
	d     artifact.Digest
	size  int64
	mtime time.Time
}

// scan lists dir's cache files, least recently used first, and removes the
// temp files that atomicfile left for cache files when a write crashed.
func scan(dir string) ([]file, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("artcache: %w", err)
	}
	var files []file
	for _, e := range ents {
		if isTemp(e.Name()) {
			if err := removeFile(filepath.Join(dir, e.Name())); err != nil {
				return nil, fmt.Errorf("artcache: stale temp file: %w", err)
			}
			continue
		}
		d, ok := parseName(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("artcache: %w", err)
		}
		files = append(files, file{d, info.Size(), info.ModTime()})
	}
	slices.SortFunc(files, func(a, b file) int {
		return cmp.Or(a.mtime.Compare(b.mtime), bytes.Compare(a.d[:], b.d[:]))
	})
	return files, nil
}

// parseName returns the digest a cache file is named by: its lower-case hex,
// as the cache writes it.
func parseName(name string) (artifact.Digest, bool) {
	var d artifact.Digest
	if len(name) != hex.EncodedLen(len(d)) {
		return d, false
	}
	_, err := hex.Decode(d[:], []byte(name))
	return d, err == nil && d.String() == name
}

// isTemp reports whether name is atomicfile's temp for a cache file:
// "." + digest hex + ".tmp-" + random.
func isTemp(name string) bool {
	rest, dot := strings.CutPrefix(name, ".")
	base, _, tmp := strings.Cut(rest, ".tmp-")
	_, digest := parseName(base)
	return dot && tmp && digest
}

// readFile reads a cache file, allocating no more than limit bytes for it.
func readFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if info.Size() > limit {
		return nil, fmt.Errorf("%s is %d bytes, over the disk budget of %d", path, info.Size(), limit)
	}
	data := make([]byte, info.Size())
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return data, nil
}

func checkDigest(want artifact.Digest, data []byte) error {
	if got := artifact.New(data).Digest; got != want {
		return fmt.Errorf("%d bytes hash to %s, want %s: %w", len(data), got, want, ErrDigestMismatch)
	}
	return nil
}

// removeFile removes path; one already gone is no error.
func removeFile(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

package receipts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// ErrClosed is returned by calls on a closed Store.
var ErrClosed = errors.New("receipts: store is closed")

// Store is the durable receipt store. Its methods are safe for concurrent
// use, except Close, which must not race with other calls.
type Store struct {
	db     *pebble.DB
	opts   Options
	closed atomic.Bool
}

// KindStats counts one kind's receipts and the bytes of their keys and values.
type KindStats struct {
	Receipts int64
	Bytes    int64
}

// Open opens (creating if need be) the store in dir.
func Open(dir string, opts Options) (*Store, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if dir == "" {
		return nil, errors.New("receipts: open: directory is empty")
	}
	if opts.MustExist {
		// pebble creates the directory before it finds no store in it.
		if _, err := opts.FS.Stat(dir); err != nil {
			return nil, fmt.Errorf("receipts: open %s: %w", dir, err)
		}
	}
	cache := pebble.NewCache(opts.CacheSize)
	defer cache.Unref()
	db, err := pebble.Open(dir, &pebble.Options{
		FS:           opts.FS,
		Cache:        cache,
		MemTableSize: uint64(opts.MemTableSize),
		Logger:       opts.Logger,

		ErrorIfNotExists: opts.MustExist,
	})
	if err != nil {
		return nil, fmt.Errorf("receipts: open %s: %w", dir, err)
	}
	return &Store{db: db, opts: opts}, nil
}

// Put stores r under k and returns once it is durable (pebble.Sync; writers
// that arrive together share one WAL fsync).
func (s *Store) Put(ctx context.Context, k Key, r Receipt) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return ErrClosed
	}
	if err := k.Validate(); err != nil {
		return err
	}
	if len(r.Proof) > s.opts.MaxProofBytes {
		return fmt.Errorf("receipts: put %s: proof is %d bytes, over MaxProofBytes %d", k, len(r.Proof), s.opts.MaxProofBytes)
	}
	if len(r.Public) > s.opts.MaxPublicBytes {
		return fmt.Errorf("receipts: put %s: public inputs are %d bytes, over MaxPublicBytes %d", k, len(r.Public), s.opts.MaxPublicBytes)
	}
	if r.Created.IsZero() {
		r.Created = s.opts.Now()
	}
	key, value := k.Encode(), encodeValue(k.Statement, r)
	start := time.Now()
	err := s.db.Set(key, value, pebble.Sync)
	if h := s.opts.Hooks.Put; h != nil {
		h(k.Kind, len(key)+len(value), time.Since(start), err)
	}
	if err != nil {
		return fmt.Errorf("receipts: put %s: %w", k, err)
	}
	return nil
}

// Get returns the receipt under k. ok is false on a miss. A value that
// fails its checksum or layout (ErrCorrupt) or proves another statement
// than k names (ErrStale) is an error, never a hit.
func (s *Store) Get(k Key) (r Receipt, ok bool, err error) {
	if s.closed.Load() {
		return r, false, ErrClosed
	}
	if err := k.Validate(); err != nil {
		return r, false, err
	}
	v, closer, err := s.db.Get(k.Encode())
	if errors.Is(err, pebble.ErrNotFound) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("receipts: get %s: %w", k, err)
	}
	// The copy outlives pebble's buffer; decodeValue slices into it.
	v = bytes.Clone(v)
	if err := closer.Close(); err != nil {
		return r, false, fmt.Errorf("receipts: get %s: %w", k, err)
	}
	statement, r, err := decodeValue(v)
	if err != nil {
		return Receipt{}, false, fmt.Errorf("receipts: get %s: %w", k, err)
	}
	if statement != k.Statement {
		return Receipt{}, false, fmt.Errorf("receipts: get %s: value proves statement %x: %w", k, statement, ErrStale)
	}
	return r, true, nil
}

// Prune removes every receipt at checkpoints ≤ through, of every kind, fork
// and image, with one durable range delete. Nothing above through is touched.
func (s *Store) Prune(through uint64) error {
	if s.closed.Load() {
		return ErrClosed
	}
	start := time.Now()
	err := s.db.DeleteRange(checkpointPrefix(0), pruneEnd(through), pebble.Sync)
	if h := s.opts.Hooks.Prune; h != nil {
		h(through, time.Since(start), err)
	}
	if err != nil {
		return fmt.Errorf("receipts: prune through checkpoint %d: %w", through, err)
	}
	return nil
}

// Stats counts receipts and their bytes (key and value) per kind by
// scanning the store. A key that does not decode is an error.
func (s *Store) Stats() (map[Kind]KindStats, error) {
	stats := make(map[Kind]KindStats, len(Kinds))
	err := s.scan("stats", func(k Key, size int) error {
		st := stats[k.Kind]
		st.Receipts++
		st.Bytes += int64(size)
		stats[k.Kind] = st
		return nil
	})
	return stats, err
}

// Keys calls fn with every stored key, in key order (checkpoint first). A
// key that does not decode is an error; so is an error from fn, which stops
// the scan.
func (s *Store) Keys(fn func(Key) error) error {
	return s.scan("keys", func(k Key, _ int) error { return fn(k) })
}

// scan calls fn with every key and the bytes of its entry.
func (s *Store) scan(op string, fn func(k Key, size int) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	it, err := s.db.NewIter(nil)
	if err != nil {
		return fmt.Errorf("receipts: %s: %w", op, err)
	}
	for it.First(); it.Valid(); it.Next() {
		k, err := DecodeKey(it.Key())
		if err == nil {
			err = fn(k, len(it.Key())+len(it.Value()))
		}
		if err != nil {
			return errors.Join(fmt.Errorf("receipts: %s: %w", op, err), it.Close())
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("receipts: %s: %w", op, err)
	}
	return nil
}

// Close flushes nothing extra (every Put was synced) and releases the store.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return ErrClosed
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("receipts: close: %w", err)
	}
	return nil
}

package receipts

import (
	"bytes"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Block calls fn with every receipt filed under checkpoint and block, in key
// order (kind, image, statement, index): every proof the store holds about
// one block of one fork. A value that fails its checks is an error naming
// its key; so is an error from fn, which stops the scan.
func (s *Store) Block(checkpoint uint64, block [32]byte, fn func(Key, Receipt) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	lower := append(checkpointPrefix(checkpoint), block[:]...)
	upper := append(bytes.Clone(lower), 0xff) // above every kind byte
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return fmt.Errorf("receipts: block %x at %d: %w", block[:4], checkpoint, err)
	}
	for it.First(); it.Valid(); it.Next() {
		if err := visit(it.Key(), it.Value(), fn); err != nil {
			return fmt.Errorf("receipts: block %x at %d: %w", block[:4], checkpoint, joinClose(err, it))
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("receipts: block %x at %d: %w", block[:4], checkpoint, err)
	}
	return nil
}

func visit(key, value []byte, fn func(Key, Receipt) error) error {
	k, err := DecodeKey(key)
	if err != nil {
		return err
	}
	statement, r, err := decodeValue(bytes.Clone(value))
	if err != nil {
		return fmt.Errorf("%s: %w", k, err)
	}
	if statement != k.Statement {
		return fmt.Errorf("%s: value proves statement %x: %w", k, statement, ErrStale)
	}
	return fn(k, r)
}

func joinClose(err error, it *pebble.Iterator) error {
	if cerr := it.Close(); cerr != nil {
		return fmt.Errorf("%w (closing the iterator: %v)", err, cerr)
	}
	return err
}

package artcache

import (
	"container/list"

	"github.com/proofd/proofd/artifact"
)

// lru is one tier's account: a set of digests in order of use, each with
// its size, kept within a byte budget by dropping the least recently used.
// It does no I/O; the cache owns the bytes and files it describes.
type lru struct {
	budget int64
	bytes  int64
	order  *list.List // of entry, most recently used at the front
	at     map[artifact.Digest]*list.Element
}

type entry struct {
	d    artifact.Digest
	size int64
}

func newLRU(budget int64) *lru {
	return &lru{budget: budget, order: list.New(), at: make(map[artifact.Digest]*list.Element)}
}

func (l *lru) has(d artifact.Digest) bool { _, ok := l.at[d]; return ok }
func (l *lru) len() int                   { return len(l.at) }
func (l *lru) fits(size int64) bool       { return size <= l.budget }

// touch makes d the most recently used; it reports whether d is held.
func (l *lru) touch(d artifact.Digest) bool {
	e, ok := l.at[d]
	if ok {
		l.order.MoveToFront(e)
	}
	return ok
}

// add holds d as the most recently used and drops the least recently used
// others until the total fits the budget; it returns them, oldest first.
// d itself is never dropped: an entry larger than the whole budget is not
// added at all, and the set is left as it was.
func (l *lru) add(d artifact.Digest, size int64) (dropped []entry) {
	if !l.fits(size) {
		return nil
	}
	l.remove(d)
	l.at[d] = l.order.PushFront(entry{d, size})
	l.bytes += size
	for l.bytes > l.budget {
		oldest := l.order.Back().Value.(entry)
		l.remove(oldest.d)
		dropped = append(dropped, oldest)
	}
	return dropped
}

// remove drops d, if held.
func (l *lru) remove(d artifact.Digest) {
	if e, ok := l.at[d]; ok {
		l.bytes -= e.Value.(entry).size
		l.order.Remove(e)
		delete(l.at, d)
	}
}

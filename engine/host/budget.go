package host

import (
	"container/list"
	"errors"
	"fmt"
	"sync"
)

// ErrOverBudget means something could not be kept resident: it does not
// fit the engine's budget even with everything unpinned evicted.
var ErrOverBudget = errors.New("over the engine's resident budget")

// Budget is the one byte accountant for everything an engine keeps between
// calls: artifact bytes, their decoded forms, a VM's warm snapshots. Each
// holder registers an Entry with its size and a function that lets go of
// it; when a new or growing entry would exceed the budget, the least
// recently used unpinned entries are evicted. A pinned entry (one a call
// in flight is using) is never evicted, so resident bytes never exceed the
// budget: an entry that does not fit beside the pinned ones is refused.
type Budget struct {
	mu     sync.Mutex
	max    uint64
	used   uint64
	pinned uint64     // bytes of pinned entries
	lru    *list.List // of *Entry, most recently used at front
}

// Entry is one registered holder of resident bytes.
type Entry struct {
	b     *Budget
	el    *list.Element // nil once gone
	name  string
	size  uint64
	pins  int
	evict func()
	// dropped: Drop was called while pinned; the entry goes at its last Unpin.
	dropped bool
}

// recent calls fn with each entry, most recently used first, until fn
// returns false. fn runs under the budget's lock and must not call it.
func (b *Budget) recent(fn func(*Entry) bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for el := b.lru.Front(); el != nil; el = el.Next() {
		if !fn(el.Value.(*Entry)) {
			return
		}
	}
}

// NewBudget makes a budget of max bytes.
func NewBudget(max uint64) *Budget { return &Budget{max: max, lru: list.New()} }

// Max is the budget in bytes.
func (b *Budget) Max() uint64 { return b.max }

// Used is the bytes registered now.
func (b *Budget) Used() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// Add registers size bytes held by name, pinned once: the caller is using
// what it just made and calls Unpin when done. evict is called, without
// the budget's lock, once the entry is evicted or dropped; it must let go
// of the bytes. Add fails with ErrOverBudget, evicting nothing, when size
// does not fit beside the pinned entries.
func (b *Budget) Add(name string, size uint64, evict func()) (*Entry, error) {
	b.mu.Lock()
	e := &Entry{b: b, name: name, size: size, pins: 1, evict: evict}
	victims, err := b.makeRoom(name, size, 0)
	if err == nil {
		e.el = b.lru.PushFront(e)
		b.used += size
		b.pinned += size
	}
	b.mu.Unlock()
	runEvictions(victims)
	return e, err
}

// makeRoom evicts unpinned entries, least recently used first, until need
// more bytes fit (have of them already counted for the asker). Called with
// b.mu held; the victims' callbacks are for the caller to run after
// unlocking.
func (b *Budget) makeRoom(name string, need, have uint64) ([]*Entry, error) {
	if need <= have {
		return nil, nil
	}
	grow := need - have
	if b.pinned-min(have, b.pinned)+need > b.max {
		return nil, fmt.Errorf("%s: %d bytes do not fit a budget of %d with %d bytes in use by calls in flight: %w",
			name, need, b.max, b.pinned-min(have, b.pinned), ErrOverBudget)
	}
	var victims []*Entry
	for el := b.lru.Back(); el != nil && b.used+grow > b.max; {
		prev := el.Prev()
		if v := el.Value.(*Entry); v.pins == 0 {
			b.remove(v)
			victims = append(victims, v)
		}
		el = prev
	}
	return victims, nil
}

func (b *Budget) remove(e *Entry) {
	b.lru.Remove(e.el)
	e.el = nil
	b.used -= e.size
	if e.pins > 0 {
		b.pinned -= e.size
	}
}

func runEvictions(victims []*Entry) {
	for _, v := range victims {
		if v.evict != nil {
			v.evict()
		}
	}
}

// Pin marks the entry in use and most recently used. It reports false when
// the entry is gone (evicted or dropped): the caller must not use what it
// stood for.
func (e *Entry) Pin() bool {
	b := e.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if e.el == nil || e.dropped {
		return false
	}
	if e.pins == 0 {
		b.pinned += e.size
	}
	e.pins++
	b.lru.MoveToFront(e.el)
	return true
}

// Unpin ends one use. The last Unpin of a dropped entry removes it.
func (e *Entry) Unpin() {
	b := e.b
	b.mu.Lock()
	if e.pins == 0 {
		b.mu.Unlock()
		panic("host: Unpin of an entry that is not pinned")
	}
	e.pins--
	var victims []*Entry
	if e.pins == 0 && e.el != nil {
		b.pinned -= e.size
		if e.dropped {
			b.remove(e)
			victims = []*Entry{e}
		}
	}
	b.mu.Unlock()
	runEvictions(victims)
}

// Resize changes the entry's size, which the caller must have pinned.
// Growing evicts other unpinned entries, or fails with ErrOverBudget (the
// size unchanged) when the new size cannot fit beside the other pinned
// entries.
func (e *Entry) Resize(size uint64) error {
	b := e.b
	b.mu.Lock()
	if e.el == nil || e.pins == 0 {
		b.mu.Unlock()
		panic("host: Resize of an entry that is not pinned")
	}
	victims, err := b.makeRoom(e.name, size, e.size)
	if err == nil {
		b.used = b.used - e.size + size
		b.pinned = b.pinned - e.size + size
		e.size = size
	}
	b.mu.Unlock()
	runEvictions(victims)
	return err
}

// Drop removes the entry now, or at its last Unpin if a call is using it;
// from now on Pin fails. Its evict function runs either way.
func (e *Entry) Drop() {
	b := e.b
	b.mu.Lock()
	var victims []*Entry
	if e.el != nil && !e.dropped {
		e.dropped = true
		if e.pins == 0 {
			b.remove(e)
			victims = []*Entry{e}
		}
	}
	b.mu.Unlock()
	runEvictions(victims)
}

// Size is the entry's registered size.
func (e *Entry) Size() uint64 {
	e.b.mu.Lock()
	defer e.b.mu.Unlock()
	return e.size
}

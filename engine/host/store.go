package host

import (
	"errors"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/proofd/proofd/artifact"
)

// Digest is the SHA-256 of an artifact's bytes.
type Digest = artifact.Digest

// Store keeps artifacts resident by digest, with their decoded forms (a
// parsed proving key, say), each an entry of the engine's Budget: the
// least recently used go first when something new needs the room. A
// decoded form is sized by SizeOf and may be evicted before its bytes (the
// next use decodes again); evicting the bytes evicts their decoded forms.
type Store struct {
	budget *Budget

	mu       sync.Mutex
	byDigest map[Digest]*stored
}

type stored struct {
	digest Digest
	kind   string
	data   []byte
	entry  *Entry

	decodeMu sync.Mutex // serializes decoding of this artifact
	formsMu  sync.Mutex // guards forms; eviction edits it without decodeMu
	forms    map[string]*form
}

type form struct {
	v     any
	entry *Entry
}

// NewStore makes a store whose artifacts and decoded forms share a budget
// of maxBytes.
func NewStore(maxBytes uint64) *Store {
	return &Store{budget: NewBudget(maxBytes), byDigest: map[Digest]*stored{}}
}

// Budget is the budget the store counts against, for engines to register
// what else they keep resident.
func (s *Store) Budget() *Budget { return s.budget }

// Put stores data under its digest, which the caller has already checked.
// It fails with ErrOverBudget when data does not fit beside what calls in
// flight are using.
func (s *Store) Put(d Digest, kind string, data []byte) error {
	if st := s.pin(d); st != nil {
		st.entry.Unpin()
		return nil
	}
	st := &stored{digest: d, kind: kind, data: data}
	e, err := s.budget.Add("artifact "+kind+" "+d.Short(), uint64(len(data)), func() { s.evicted(st) })
	if err != nil {
		return err
	}
	st.entry = e
	s.mu.Lock()
	s.byDigest[d] = st
	s.mu.Unlock()
	e.Unpin()
	return nil
}

// evicted forgets an artifact the budget let go, and its decoded forms.
func (s *Store) evicted(st *stored) {
	s.mu.Lock()
	if s.byDigest[st.digest] == st {
		delete(s.byDigest, st.digest)
	}
	s.mu.Unlock()
	st.formsMu.Lock()
	forms := st.forms
	st.forms = nil
	st.formsMu.Unlock()
	for _, f := range forms {
		f.entry.Drop()
	}
}

// Has reports whether d is resident.
func (s *Store) Has(d Digest) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.byDigest[d]
	return ok
}

// Stats reports how many artifacts are resident, and the bytes of
// everything counted against the budget (artifacts, decoded forms, and
// whatever else the engine registered).
func (s *Store) Stats() (artifacts int, bytes uint64) {
	s.mu.Lock()
	n := len(s.byDigest)
	s.mu.Unlock()
	return n, s.budget.Used()
}

// Recent lists the resident artifacts' digests, most recently used first,
// at most max of them.
func (s *Store) Recent(max int) []Digest {
	s.mu.Lock()
	byEntry := make(map[*Entry]Digest, len(s.byDigest))
	for d, st := range s.byDigest {
		byEntry[st.entry] = d
	}
	s.mu.Unlock()
	var out []Digest
	s.budget.recent(func(e *Entry) bool {
		if d, ok := byEntry[e]; ok {
			out = append(out, d)
		}
		return len(out) < max
	})
	return out
}

// pin finds d and pins its bytes, or returns nil.
func (s *Store) pin(d Digest) *stored {
	s.mu.Lock()
	st, ok := s.byDigest[d]
	s.mu.Unlock()
	if !ok || !st.entry.Pin() {
		return nil
	}
	return st
}

// Lease holds what one call uses from the store: everything it returned
// stays resident until Release. A Lease is for one goroutine.
type Lease struct {
	s    *Store
	pins []*Entry
}

// Lease starts a call's lease.
func (s *Store) Lease() *Lease { return &Lease{s: s} }

// Release unpins everything the lease handed out.
func (l *Lease) Release() {
	for _, e := range l.pins {
		e.Unpin()
	}
	l.pins = nil
}

// Bytes returns the bytes stored under d, pinned for the lease.
func (l *Lease) Bytes(d Digest) ([]byte, bool) {
	st := l.s.pin(d)
	if st == nil {
		return nil, false
	}
	l.pins = append(l.pins, st.entry)
	return st.data, true
}

// Decoded returns the decoded form of artifact d under name, decoding it
// with decode on first use and sizing it with SizeOf; both stay pinned for
// the lease. Concurrent callers share one decode. It reports missing=true
// when d is not resident, and an error wrapping ErrOverBudget when the
// decoded form does not fit (see InputStatus).
func (l *Lease) Decoded(d Digest, name string, decode func(data []byte) (any, error)) (v any, missing bool, err error) {
	st := l.s.pin(d)
	if st == nil {
		return nil, true, nil
	}
	l.pins = append(l.pins, st.entry)
	st.decodeMu.Lock()
	defer st.decodeMu.Unlock()
	st.formsMu.Lock()
	f := st.forms[name]
	st.formsMu.Unlock()
	if f != nil && f.entry.Pin() {
		l.pins = append(l.pins, f.entry)
		return f.v, false, nil
	}
	v, err = decode(st.data)
	if err != nil {
		return nil, false, err
	}
	f = &form{v: v}
	e, err := l.s.budget.Add("decoded "+name+" of "+st.kind+" "+d.Short(), SizeOf(v), func() {
		st.formsMu.Lock()
		if st.forms[name] == f {
			delete(st.forms, name)
		}
		st.formsMu.Unlock()
	})
	if err != nil {
		return nil, false, err
	}
	f.entry = e
	l.pins = append(l.pins, e)
	st.formsMu.Lock()
	if st.forms == nil {
		st.forms = map[string]*form{}
	}
	st.forms[name] = f
	st.formsMu.Unlock()
	return v, false, nil
}

// InputStatus is the status for a failure to load input: RESOURCE_EXHAUSTED
// when it does not fit the budget, otherwise a BadInput naming it.
func InputStatus(input string, err error) error {
	if errors.Is(err, ErrOverBudget) {
		return status.Errorf(codes.ResourceExhausted, "%s: %v", input, err)
	}
	return BadInput(input, err.Error())
}

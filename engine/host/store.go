package host

import (
	"container/list"
	"sync"

	"github.com/proofd/proofd/artifact"
)

// Digest is the SHA-256 of an artifact's bytes.
type Digest = artifact.Digest

// Store keeps artifacts resident by digest, evicting the least recently used
// when its byte budget is exceeded. Decoded forms of an artifact (a parsed
// proving key, say) live in the same entry and leave with it.
type Store struct {
	mu       sync.Mutex
	maxBytes uint64
	size     uint64
	lru      *list.List // of *entry, most recent at front
	byDigest map[Digest]*list.Element
}

type entry struct {
	digest Digest
	kind   string
	data   []byte

	decodeMu sync.Mutex // serializes decoding of this artifact
	decoded  map[string]any
}

// NewStore makes a store that keeps at most maxBytes of artifact bytes.
func NewStore(maxBytes uint64) *Store {
	return &Store{maxBytes: maxBytes, lru: list.New(), byDigest: map[Digest]*list.Element{}}
}

// Put stores data under its digest, which the caller has already checked.
func (s *Store) Put(d Digest, kind string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if el, ok := s.byDigest[d]; ok {
		s.lru.MoveToFront(el)
		return
	}
	s.byDigest[d] = s.lru.PushFront(&entry{digest: d, kind: kind, data: data})
	s.size += uint64(len(data))
	for s.size > s.maxBytes && s.lru.Len() > 1 {
		oldest := s.lru.Back()
		e := oldest.Value.(*entry)
		s.lru.Remove(oldest)
		delete(s.byDigest, e.digest)
		s.size -= uint64(len(e.data))
	}
}

// Get returns the bytes stored under d.
func (s *Store) Get(d Digest) ([]byte, bool) {
	e := s.lookup(d)
	if e == nil {
		return nil, false
	}
	return e.data, true
}

// Has reports whether d is resident.
func (s *Store) Has(d Digest) bool { return s.lookup(d) != nil }

// Stats reports how many artifacts and bytes are resident.
func (s *Store) Stats() (count int, bytes uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lru.Len(), s.size
}

// Decoded returns the decoded form of artifact d under name, decoding it with
// decode on first use. Concurrent callers share one decode. It reports
// missing=true when d is not resident.
func (s *Store) Decoded(d Digest, name string, decode func(data []byte) (any, error)) (v any, missing bool, err error) {
	e := s.lookup(d)
	if e == nil {
		return nil, true, nil
	}
	e.decodeMu.Lock()
	defer e.decodeMu.Unlock()
	if v, ok := e.decoded[name]; ok {
		return v, false, nil
	}
	v, err = decode(e.data)
	if err != nil {
		return nil, false, err
	}
	if e.decoded == nil {
		e.decoded = map[string]any{}
	}
	e.decoded[name] = v
	return v, false, nil
}

func (s *Store) lookup(d Digest) *entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	el, ok := s.byDigest[d]
	if !ok {
		return nil
	}
	s.lru.MoveToFront(el)
	return el.Value.(*entry)
}

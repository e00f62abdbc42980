package snapshot

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/ethereum-optimism/optimism/cannon/mipsevm/memory"
	"github.com/ethereum-optimism/optimism/cannon/mipsevm/multithreaded"
	"github.com/ethereum/go-ethereum/common"
)

// The state section holds the bytes Cannon's State.Serialize writes after
// memory, verbatim. Its layout, for bounds checks before Cannon parses it:
const (
	stateFixedSize  = 32 + 8 + 8 + 1 + 8 + 8 + 1 + 1 + 8 + 8 + 1 + 8 // PreimageKey … NextThreadId
	threadSize      = multithreaded.SERIALIZED_THREAD_SIZE
	stateMinimum    = stateFixedSize + 8 + 8 + 4 // two empty thread stacks, no hint
	emptyMemorySize = 8                          // Cannon's encoding of memory with no pages
)

// stateBytes is Cannon's encoding of st without its memory: Serialize of a
// shallow copy whose memory is empty, less the empty memory's page count.
func stateBytes(st *multithreaded.State) ([]byte, error) {
	cp := *st
	cp.Memory = memory.NewMemory()
	var buf bytes.Buffer
	if err := cp.Serialize(&buf); err != nil {
		return nil, fmt.Errorf("serialize cannon state: %w", err)
	}
	return buf.Bytes()[emptyMemorySize:], nil
}

// checkStateLayout bounds every count in a state section by its length, so
// Cannon's Deserialize (which allocates whatever a count says) is safe, and
// requires the section to end exactly where the encoding does. It returns
// the offset in b of the first bad byte.
func checkStateLayout(b []byte) (int, error) {
	if len(b) < stateMinimum {
		return len(b), fmt.Errorf("truncated: the state after memory is %d bytes, the smallest is %d", len(b), stateMinimum)
	}
	at := stateFixedSize
	for _, side := range []string{"left", "right"} {
		if len(b)-at < 8 {
			return at, fmt.Errorf("truncated before the %s thread count", side)
		}
		n := binary.BigEndian.Uint64(b[at:])
		if n > uint64(len(b)-at-8)/threadSize {
			return at, fmt.Errorf("%s thread count %d does not fit in the %d bytes left", side, n, len(b)-at-8)
		}
		at += 8 + int(n)*threadSize
	}
	if len(b)-at < 4 {
		return at, fmt.Errorf("truncated before the hint length")
	}
	if n := binary.BigEndian.Uint32(b[at:]); uint64(n) != uint64(len(b)-at-4) {
		return at, fmt.Errorf("hint length %d, %d bytes follow it", n, len(b)-at-4)
	}
	return 0, nil
}

// parseState decodes a state section with Cannon's own decoder into a state
// with empty memory. A bad section yields the offset of the bad byte in it.
func parseState(b []byte) (*multithreaded.State, int, error) {
	if at, err := checkStateLayout(b); err != nil {
		return nil, at, err
	}
	st := new(multithreaded.State)
	in := io.MultiReader(bytes.NewReader(make([]byte, emptyMemorySize)), bytes.NewReader(b))
	if err := st.Deserialize(in); err != nil {
		return nil, 0, fmt.Errorf("cannon cannot decode the state: %w", err)
	}
	return st, 0, nil
}

// witnessFor is st's state witness and claim hash with memRoot as its
// memory root, computed by Cannon from a copy whose memory is empty so that
// nothing is re-hashed.
func witnessFor(st *multithreaded.State, memRoot [32]byte) ([]byte, common.Hash) {
	cp := *st
	cp.Memory = memory.NewMemory()
	w, _ := cp.EncodeWitness()
	copy(w[multithreaded.MEMROOT_WITNESS_OFFSET:], memRoot[:])
	claim, _ := multithreaded.StateWitness(w).StateHash() // cannot fail: Cannon made w
	return w, claim
}

package vm

import (
	"errors"
	"fmt"
	"sync"

	"github.com/ethereum-optimism/optimism/cannon/mipsevm"
)

// Oracle is Cannon's mipsevm.PreimageOracle: Hint passes on a hint the guest
// wrote (without its length prefix), GetPreimage answers a 32-byte typed
// key. The interface has no error results, so an oracle that cannot answer
// panics, as Cannon's own oracles do; Machine recovers the panic and returns
// it as the step's error (see Machine). An oracle that panics with an error
// value has it wrapped, so errors.Is works through Machine's errors.
type Oracle = mipsevm.PreimageOracle

// Errors a step can fail with because of the oracle.
var (
	// ErrUnknownPreimage: a KVOracle was asked for a key it does not hold.
	ErrUnknownPreimage = errors.New("preimage not known")
	// ErrNoOracle: the guest read a preimage and the machine has no oracle.
	ErrNoOracle = errors.New("no preimage oracle")
)

// KVOracle answers preimage requests from a fixed map and records hints.
type KVOracle struct {
	kv    map[[32]byte][]byte
	mu    sync.Mutex
	hints [][]byte
}

// NewKVOracle answers from kv, keyed by the 32-byte typed keys Cannon passes
// (key type in the first byte; the value is the preimage without Cannon's
// length prefix). kv is read, never written or copied: do not change it
// while a machine uses the oracle. A key kv lacks panics with an error
// wrapping ErrUnknownPreimage, which Machine returns as the step's error.
// The result is a *KVOracle.
func NewKVOracle(kv map[[32]byte][]byte) Oracle {
	return &KVOracle{kv: kv}
}

// Hint records v.
func (o *KVOracle) Hint(v []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.hints = append(o.hints, append([]byte(nil), v...))
}

// Hints returns the hints received so far, oldest first.
func (o *KVOracle) Hints() [][]byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([][]byte(nil), o.hints...)
}

// GetPreimage returns kv[k], or panics with ErrUnknownPreimage.
func (o *KVOracle) GetPreimage(k [32]byte) []byte {
	v, ok := o.kv[k]
	if !ok {
		panic(fmt.Errorf("key %#x: %w", k, ErrUnknownPreimage))
	}
	return v
}

// noOracle is the oracle of a machine given none: like Cannon's run without
// a server, hints are dropped and a preimage read fails.
type noOracle struct{}

func (noOracle) Hint([]byte) {}

func (noOracle) GetPreimage(k [32]byte) []byte {
	panic(fmt.Errorf("key %#x: %w", k, ErrNoOracle))
}

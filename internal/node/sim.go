package node

import (
	"encoding/hex"
	"encoding/json"
	"io"

	"github.com/proofd/proofd/examples/rollup"
)

// WriteSimulated writes a simulated chain as the ingest API's request
// bodies, one JSON object per line: {"block": …} for POST /v1/blocks,
// {"head": {"hash": …}} for POST /v1/head (a block sent again: the chain
// goes back to it), or {"finalize": {"height": N}} for POST /v1/finalize.
// For trying a node with curl (docs/ingest.md) and for tests.
func WriteSimulated(w io.Writer, sim rollup.SimConfig) error {
	evs, err := rollup.Simulate(sim)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	sent := map[[32]byte]bool{}
	for _, ev := range evs {
		var line any
		switch {
		case ev.Block != nil && sent[ev.Block.Hash]:
			line = map[string]any{"head": map[string]string{"hash": hex.EncodeToString(ev.Block.Hash[:])}}
		case ev.Block != nil:
			sent[ev.Block.Hash] = true
			line = map[string]any{"block": encodeBlock(ev.Block)}
		default:
			line = map[string]any{"finalize": map[string]uint64{"height": ev.Finalize}}
		}
		if err := enc.Encode(line); err != nil {
			return err
		}
	}
	return nil
}

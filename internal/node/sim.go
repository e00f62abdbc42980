package node

import (
	"encoding/json"
	"io"

	"github.com/proofd/proofd/examples/rollup"
)

// WriteSimulated writes a simulated chain for params p as the ingest API's
// request bodies, one JSON object per line: {"block": …} for
// POST /v1/blocks, or {"finalize": N} for POST /v1/finalize. For trying a
// node with curl (docs/ingest.md) and for tests.
func WriteSimulated(w io.Writer, sim rollup.SimConfig) error {
	evs, err := rollup.Simulate(sim)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	for _, ev := range evs {
		var line any
		if ev.Block != nil {
			line = map[string]any{"block": encodeBlock(ev.Block)}
		} else {
			line = map[string]any{"finalize": map[string]uint64{"height": ev.Finalize}}
		}
		if err := enc.Encode(line); err != nil {
			return err
		}
	}
	return nil
}

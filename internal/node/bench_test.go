package node

import (
	"bytes"
	"testing"

	"github.com/proofd/proofd/examples/rollup"
)

// BenchmarkSubmit is one durable SubmitBlock through the Handler, in
// process (no socket), on a node that takes nothing from its inbox: JSON,
// validation and the inbox's synced write. `proofd bench ingest` measures
// the same over loopback HTTP against raw pebble writes.
func BenchmarkSubmit(b *testing.B) {
	cfg := testConfig(b)
	cfg.MaxBehind = b.N + 1
	reqs := simulatedTB(b, rollup.SimConfig{Params: cfg.Params(), Seed: 1, Blocks: b.N, Reorgs: -1, FinalityDepth: b.N + 1})
	h := ingestOnly(b, cfg, false).Handler()
	b.ResetTimer()
	for i := range b.N {
		rec := serve(h, "SubmitBlock", reqs[i].Body)
		if rec.Code != 200 || !bytes.Contains(rec.Body.Bytes(), []byte(`"duplicate":false`)) {
			b.Fatalf("block %d: %d %s", i+1, rec.Code, rec.Body)
		}
	}
}

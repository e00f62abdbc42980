package node

import (
	"encoding/hex"
	"encoding/json"
	"io"

	"google.golang.org/protobuf/proto"

	"github.com/proofd/proofd/examples/rollup"
	ingestv1 "github.com/proofd/proofd/proto/ingestv1"
)

// SimRequest is one line of WriteSimulated's output: an ingest API call,
// POST /proofd.ingest.v1.IngestService/<Method> with Body as its JSON.
type SimRequest struct {
	Method string          `json:"method"` // SubmitBlock, SetHead or Finalize
	Body   json.RawMessage `json:"body"`
}

// WriteSimulated writes a simulated chain as ingest API calls, one JSON
// SimRequest per line: SubmitBlock for a new block, SetHead for a block sent
// again (the chain goes back to it), Finalize for a finality mark. For
// trying a node with curl (docs/ingest.md) and for tests.
func WriteSimulated(w io.Writer, sim rollup.SimConfig) error {
	evs, err := rollup.Simulate(sim)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	sent := map[[32]byte]bool{}
	for _, ev := range evs {
		var method string
		var msg proto.Message
		switch {
		case ev.Block != nil && sent[ev.Block.Hash]:
			method, msg = "SetHead", &ingestv1.SetHeadRequest{Hash: hex.EncodeToString(ev.Block.Hash[:])}
		case ev.Block != nil:
			sent[ev.Block.Hash] = true
			method, msg = "SubmitBlock", &ingestv1.SubmitBlockRequest{Block: encodeBlock(ev.Block)}
		default:
			method, msg = "Finalize", &ingestv1.FinalizeRequest{Height: ev.Finalize}
		}
		body, err := jsonCodec{}.Marshal(msg)
		if err != nil {
			return err
		}
		if err := enc.Encode(SimRequest{Method: method, Body: body}); err != nil {
			return err
		}
	}
	return nil
}

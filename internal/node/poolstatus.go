package node

import (
	"slices"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/engine/pool"
	ingestv1 "github.com/proofd/proofd/proto/ingestv1"
)

// poolEngines lists f's slots for GetStatus. names, when it returns a map,
// turns a resident digest into its circuit's stage (tx, batch, aggregate);
// a stage holding several of its artifacts (constraint system, keys) shows
// once, and a digest no circuit claims shows as its first 8 hex digits.
func poolEngines(f *pool.Factory, names func() map[artifact.Digest]string) func() []*ingestv1.Engine {
	return func() []*ingestv1.Engine {
		infos := f.Engines()
		if infos == nil {
			return nil
		}
		var byDigest map[artifact.Digest]string
		if names != nil {
			byDigest = names()
		}
		out := make([]*ingestv1.Engine, len(infos))
		for i, e := range infos {
			var circuits []string
			for _, d := range e.Resident {
				name, ok := byDigest[d]
				if !ok {
					name = d.String()[:8]
				}
				if !slices.Contains(circuits, name) {
					circuits = append(circuits, name)
				}
			}
			out[i] = &ingestv1.Engine{Slot: uint32(e.Slot), State: e.State, Address: e.Address, Circuits: circuits, Calls: e.Calls}
		}
		return out
	}
}

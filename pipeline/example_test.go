package pipeline_test

import (
	"fmt"

	"github.com/proofd/proofd/pipeline"
)

// A shell carries out the core's effects and reports back. Here every
// lookup is answered from a map, every proof succeeds at once, and a flip
// reorg (A → B → A) costs no proof: A's proofs are found in the store.
func Example() {
	core, err := pipeline.New(pipeline.Config{BundleSize: 1})
	if err != nil {
		panic(err)
	}
	store := map[pipeline.JobID]bool{}
	run := func(effs []pipeline.Effect) {
		for len(effs) > 0 {
			e := effs[0]
			effs = effs[1:]
			switch e := e.(type) {
			case pipeline.Lookup:
				effs = append(effs, core.LookupDone(e.Job, store[e.Job])...)
			case pipeline.Prove:
				effs = append(effs, core.ProveDone(e.Job, nil)...)
			case pipeline.Store:
				store[e.Job] = true
				effs = append(effs, core.Stored(e.Job)...)
			}
		}
	}
	a := pipeline.Block{Height: 1, Hash: pipeline.Hash{0xa}, Txs: 2}
	b := pipeline.Block{Height: 1, Hash: pipeline.Hash{0xb}, Txs: 1}
	for _, blk := range []pipeline.Block{a, b, a} {
		effs, err := core.AddBlock(blk)
		if err != nil {
			panic(err)
		}
		run(effs)
	}
	st := core.Stats()
	fmt.Printf("proofs made (tx, batch, aggregate): %v, lookups hit: %v, reorgs: %d\n", st.Proves, st.Hits, st.Reorgs)
	// Output: proofs made (tx, batch, aggregate): [3 2 2], lookups hit: [2 1 1], reorgs: 2
}

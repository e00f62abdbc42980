package node

import (
	"testing"
	"time"

	"github.com/proofd/proofd/pipeline"
	ingestv1 "github.com/proofd/proofd/proto/ingestv1"
)

func TestTrackerKeepsBoundedHistory(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	tr := newTracker(func() time.Time { return now })
	b := pipeline.Block{Height: 1, Hash: pipeline.Hash{1}}
	tr.observe(pipeline.Update{Block: &b})
	tr.observe(pipeline.Update{Block: &b, Reorg: true})
	// 130 minutes of proofs, two a minute: a tx made and a batch found.
	for m := range 130 {
		now = time.Unix(1_800_000_000+int64(m)*60, 0)
		tx := pipeline.JobID{Stage: pipeline.StageTx, Height: 1, Block: b.Hash}
		batch := pipeline.JobID{Stage: pipeline.StageBatch, Height: 1, Block: b.Hash}
		tr.observe(pipeline.Update{Proved: &tx, Took: time.Second, Depth: [3]pipeline.Depth{{Queued: 3}, {InFlight: 1}, {Waiting: 2}}})
		tr.observe(pipeline.Update{Hit: &batch, Depth: [3]pipeline.Depth{{Queued: 3}, {InFlight: 1}, {Waiting: 2}}})
	}
	var st ingestv1.GetStatusResponse
	tr.status(&st)
	if st.BlocksAccepted != 2 || st.Reorgs != 1 || st.Tip.Height != 1 {
		t.Errorf("blocks %d reorgs %d tip %v", st.BlocksAccepted, st.Reorgs, st.Tip)
	}
	if len(st.Recent) != recentProofs || !st.Recent[0].Cached || st.Recent[1].Seconds != 1 {
		t.Errorf("recent: %d records, newest %v", len(st.Recent), st.Recent[:2])
	}
	if len(st.ProofsPerMinute) != chartMinutes || len(tr.minutes) > chartMinutes {
		t.Errorf("chart: %d minutes answered, %d held", len(st.ProofsPerMinute), len(tr.minutes))
	}
	for _, m := range st.ProofsPerMinute {
		if m.Proofs != 2 {
			t.Errorf("minute %d: %d proofs, want 2", m.MinuteUnix, m.Proofs)
		}
	}
	if st.CacheHitRate != 0.5 {
		t.Errorf("cache hit rate %v, want 0.5", st.CacheHitRate)
	}
	if tx := st.Stages[0]; tx.Stage != "tx" || tx.Queued != 3 || tx.ProofsMade != 130 || st.Stages[1].InFlight != 1 || st.Stages[2].Waiting != 2 {
		t.Errorf("stages: %v", st.Stages)
	}
}

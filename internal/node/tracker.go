package node

import (
	"encoding/hex"
	"sync"
	"time"

	"github.com/proofd/proofd/pipeline"
	ingestv1 "github.com/proofd/proofd/proto/ingestv1"
)

const (
	recentProofs = 50 // finished jobs the status keeps, newest first
	chartMinutes = 60 // minutes of proofs-per-minute the status keeps
)

// tracker folds the pipeline's updates into what GetStatus reports. Its
// memory is fixed: counters, the last recentProofs jobs and chartMinutes
// buckets, whatever the chain's length.
type tracker struct {
	now func() time.Time

	mu         sync.Mutex
	accepted   uint64
	tip        pipeline.Block
	reorgs     uint64
	refused    uint64
	stages     [3]stageTally
	depth      [3]pipeline.Depth
	recent     []*ingestv1.ProofRecord // newest last
	minutes    map[int64]uint64        // start of minute (Unix s) → proofs made and found
	settlement *pipeline.Input
}

type stageTally struct {
	made, hits, published, retries, failed uint64
}

func newTracker(now func() time.Time) *tracker {
	return &tracker{now: now, minutes: map[int64]uint64{}}
}

func (t *tracker) observe(u pipeline.Update) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.depth = u.Depth
	switch {
	case u.Block != nil:
		t.accepted++
		t.tip = *u.Block
		if u.Reorg {
			t.reorgs++
		}
	case u.Refused != nil:
		t.refused++
	case u.Proved != nil:
		t.stages[u.Proved.Stage].made++
		t.finished(*u.Proved, false, u.Took)
	case u.Hit != nil:
		t.stages[u.Hit.Stage].hits++
		t.finished(*u.Hit, true, 0)
	case u.Retry != nil:
		t.stages[u.Retry.Stage].retries++
	case u.Failed != nil:
		t.stages[u.Failed.Stage].failed++
	case u.Published != nil:
		t.stages[u.Published.Stage].published++
		if u.Published.Stage == pipeline.StageAggregate && u.Input != nil &&
			(t.settlement == nil || u.Published.Height >= t.settlement.Job.Height) {
			t.settlement = u.Input
		}
	}
}

func (t *tracker) finished(j pipeline.JobID, cached bool, took time.Duration) {
	now := t.now()
	t.recent = append(t.recent, &ingestv1.ProofRecord{
		Stage: j.Stage.String(), Height: j.Height, Block: hex.EncodeToString(j.Block[:]), Index: uint32(j.Index),
		Cached: cached, Seconds: took.Seconds(), FinishedUnixMs: now.UnixMilli(),
	})
	if len(t.recent) > recentProofs {
		t.recent = append(t.recent[:0], t.recent[len(t.recent)-recentProofs:]...)
	}
	minute := now.Unix() / 60 * 60
	t.minutes[minute]++
	for m := range t.minutes {
		if m <= minute-chartMinutes*60 {
			delete(t.minutes, m)
		}
	}
}

// status fills the pipeline's part of GetStatus.
func (t *tracker) status(out *ingestv1.GetStatusResponse) {
	t.mu.Lock()
	defer t.mu.Unlock()
	out.Tip = &ingestv1.Checkpoint{Height: t.tip.Height, Hash: hex.EncodeToString(t.tip.Hash[:])}
	out.BlocksAccepted, out.Reorgs, out.Refused = t.accepted, t.reorgs, t.refused
	if t.settlement != nil {
		out.SettlementHeight = t.settlement.Job.Height
	}
	var made, hits uint64
	for st, tally := range t.stages {
		d := t.depth[st]
		out.Stages = append(out.Stages, &ingestv1.StageStatus{
			Stage: pipeline.Stage(st).String(), Waiting: uint64(d.Waiting), Queued: uint64(d.Queued), InFlight: uint64(d.InFlight),
			ProofsMade: tally.made, CacheHits: tally.hits, Published: tally.published, Retries: tally.retries, Failed: tally.failed,
		})
		made += tally.made
		hits += tally.hits
	}
	if made+hits > 0 {
		out.CacheHitRate = float64(hits) / float64(made+hits)
	}
	for i := len(t.recent) - 1; i >= 0; i-- {
		out.Recent = append(out.Recent, t.recent[i])
	}
	last := t.now().Unix() / 60 * 60
	for m := last - (chartMinutes-1)*60; m <= last; m += 60 {
		out.ProofsPerMinute = append(out.ProofsPerMinute, &ingestv1.MinuteCount{MinuteUnix: m, Proofs: t.minutes[m]})
	}
}

// settled is the latest published aggregate, or nil.
func (t *tracker) settled() *pipeline.Input {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.settlement
}

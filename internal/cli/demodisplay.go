package cli

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/proofd/proofd/examples/rollup/prover"
	"github.com/proofd/proofd/pipeline"
	"github.com/proofd/proofd/snark"
)

// demoDisplay shows the demo's progress: a bar per stage, with rates, when
// stdout is a terminal (and not --json); plain lines on stderr otherwise.
type demoDisplay struct {
	mu    sync.Mutex
	lines io.Writer // plain mode
	start time.Time
	prog  *mpb.Progress
	bars  [3]*mpb.Bar
	done  [3]int64
	total [3]int64
}

func (a *app) newDemoDisplay(f demoFlags) *demoDisplay {
	d := &demoDisplay{start: time.Now()}
	p := f.sim.Params
	d.total = [3]int64{int64(f.sim.Blocks * p.TxsPerBlock), int64(f.sim.Blocks), int64(f.sim.Blocks / max(p.BundleSize, 1))}
	out, ok := a.terminal(f.json)
	if !ok {
		d.lines = a.stderr
		return d
	}
	d.prog = mpb.New(mpb.WithOutput(out), mpb.WithWidth(32), mpb.WithRefreshRate(150*time.Millisecond))
	for st := range d.bars {
		d.bars[st] = d.prog.AddBar(max(d.total[st], 1),
			mpb.PrependDecorators(decor.Name(fmt.Sprintf("%-9s", pipeline.Stage(st))), decor.CountersNoUnit("%3d/%-3d")),
			mpb.AppendDecorators(decor.AverageSpeed(0, "%5.2f proofs/s"), decor.Name("  "), decor.Elapsed(decor.ET_STYLE_MMSS)),
		)
	}
	return d
}

func (d *demoDisplay) printf(format string, args ...any) {
	if d.lines != nil {
		fmt.Fprintf(d.lines, "[%6.1fs] "+format+"\n", append([]any{time.Since(d.start).Seconds()}, args...)...)
	}
}

func (d *demoDisplay) setup(s prover.StageSetup) {
	d.mu.Lock()
	defer d.mu.Unlock()
	how := "keys from the cache"
	if !s.Cached {
		how = fmt.Sprintf("setup took %.1f s (keys now cached)", s.Setup.Seconds())
	}
	msg := fmt.Sprintf("%s circuit ready: %s, %d constraints, compiled in %.1f s, %s",
		s.Stage, snark.CurveName(s.Curve), s.Constraints, s.Compile.Seconds(), how)
	if d.prog != nil {
		fmt.Fprintln(os.Stderr, msg)
		return
	}
	d.printf("%s", msg)
}

func (d *demoDisplay) update(u pipeline.Update) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case u.Block != nil && u.Reorg:
		d.printf("reorg: block %s at height %d (parent %s) replaces the tip", u.Block.Hash, u.Block.Height, u.Block.Parent)
	case u.Block != nil:
		d.printf("block %s at height %d, %d transfers", u.Block.Hash, u.Block.Height, u.Block.Txs)
	case u.Proved != nil:
		d.printf("proved %s in %.2f s", u.Proved, u.Took.Seconds())
	case u.Hit != nil:
		d.printf("found %s in the receipt store", u.Hit)
	case u.Retry != nil:
		d.printf("retrying %s: %v", u.Retry, u.Err)
	case u.Failed != nil:
		d.printf("FAILED %s: %v", u.Failed, u.Err)
	case u.Pruned > 0:
		d.printf("finalized: pruned receipts through height %d", u.Pruned)
	case u.Published != nil:
		st := u.Published.Stage
		d.done[st]++
		if d.done[st] > d.total[st] {
			d.total[st] = d.done[st]
			if d.prog != nil {
				d.bars[st].SetTotal(d.total[st], false)
			}
		}
		if d.prog != nil {
			d.bars[st].Increment()
		}
		if st == pipeline.StageAggregate {
			d.printf("settled: aggregate proof published for the bundle ending at height %d", u.Published.Height)
		}
	}
}

func (d *demoDisplay) finish() {
	if d.prog == nil {
		return
	}
	for _, b := range d.bars {
		b.SetTotal(-1, true)
	}
	d.prog.Wait()
}

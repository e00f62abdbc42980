package cli

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"
)

// progressEvery is how often plain-mode progress lines are written. Tests
// shorten it.
var progressEvery = 2 * time.Second

// progressUnit says what a progress display counts.
type progressUnit int

const (
	unitNone  progressUnit = iota // nothing countable: a running timer
	unitSteps                     // VM steps
	unitBytes                     // bytes
)

// terminal returns stdout when it is a terminal that may carry a progress
// display: not when it carries data (--json, a proof on stdout).
func (a *app) terminal(data bool) (*os.File, bool) {
	out, ok := a.stdout.(*os.File)
	if data || !ok || !term.IsTerminal(int(out.Fd())) {
		return nil, false
	}
	return out, true
}

// progress shows how far long work has got: a bar on the terminal (a
// spinner when total is unknown), else a line on stderr at most every
// progressEvery once the work has run that long (at the first update
// after it, for counted work), and a last line when it ends. It never
// writes to stdout unless stdout is a terminal.
type progress struct {
	name  string
	unit  progressUnit
	total int64 // <= 0: unknown
	done  atomic.Int64

	prog *mpb.Progress // terminal mode
	bar  *mpb.Bar

	mu      sync.Mutex // plain mode
	lines   io.Writer
	now     func() time.Time
	start   time.Time
	last    time.Time
	printed bool
	stop    chan struct{}
	stopped chan struct{}
}

// progress starts a display of the work called name, total units long
// (<= 0 if unknown). data says stdout carries the command's data (--json),
// which keeps the display off stdout. Call finish when the work ends.
func (a *app) progress(name string, total int64, unit progressUnit, data bool) *progress {
	p := &progress{name: name, unit: unit, total: total, now: time.Now}
	p.start = p.now()
	p.last = p.start
	if out, ok := a.terminal(data); ok {
		p.prog = mpb.New(mpb.WithOutput(out), mpb.WithWidth(32), mpb.WithRefreshRate(150*time.Millisecond))
		p.bar = p.addBar()
		return p
	}
	p.lines = a.stderr
	p.stop, p.stopped = make(chan struct{}), make(chan struct{})
	if unit == unitNone {
		// Nothing calls set: a timer writes the lines. Counted work writes
		// them from set, on the worker's goroutine, so that they never race
		// with what else it writes to stderr (a guest's output, say).
		go p.tickEvery(progressEvery)
	} else {
		close(p.stopped)
	}
	return p
}

func (p *progress) addBar() *mpb.Bar {
	name := decor.Name(p.name+" ", decor.WCSyncSpaceR)
	var counter, rate decor.Decorator
	switch p.unit {
	case unitBytes:
		counter = decor.CurrentKibiByte("% .1f")
		if p.total > 0 {
			counter = decor.CountersKibiByte("% .1f / % .1f")
		}
		rate = decor.AverageSpeed(decor.SizeB1024(0), "% .1f")
	case unitSteps:
		counter = decor.CurrentNoUnit("%d steps")
		if p.total > 0 {
			counter = decor.CountersNoUnit("%d / %d steps")
		}
		rate = decor.AverageSpeed(0, "%.0f steps/s")
	default:
		counter, rate = decor.Name(""), decor.Name("")
	}
	if p.total > 0 {
		return p.prog.AddBar(p.total,
			mpb.PrependDecorators(name, counter),
			mpb.AppendDecorators(decor.Percentage(decor.WC{W: 5}), decor.Name("  "), rate, decor.Name("  "),
				decor.OnComplete(decor.AverageETA(decor.ET_STYLE_GO), "done")),
		)
	}
	return p.prog.AddSpinner(0,
		mpb.PrependDecorators(name, counter),
		mpb.AppendDecorators(rate, decor.Name("  "), decor.Elapsed(decor.ET_STYLE_GO)),
	)
}

// set records that done units of the work are done.
func (p *progress) set(done int64) {
	p.done.Store(done)
	if p.bar != nil {
		p.bar.SetCurrent(done)
		return
	}
	p.tick()
}

func (p *progress) tickEvery(d time.Duration) {
	defer close(p.stopped)
	t := time.NewTicker(max(d, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.tick()
		}
	}
}

// tick writes a plain line if progressEvery has passed since the last.
func (p *progress) tick() {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if now.Sub(p.last) < progressEvery {
		return
	}
	p.last, p.printed = now, true
	fmt.Fprintln(p.lines, progressLine(p.name, p.unit, p.done.Load(), p.total, now.Sub(p.start), false))
}

// finish ends the display: the bar completes, or, if the work was long
// enough to get a periodic line, a last line says how it ended. It
// returns whether anything was shown.
func (p *progress) finish() bool {
	if p.prog != nil {
		p.bar.SetTotal(-1, true)
		p.prog.Wait()
		return true
	}
	close(p.stop)
	<-p.stopped
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.printed {
		fmt.Fprintln(p.lines, progressLine(p.name, p.unit, p.done.Load(), p.total, p.now().Sub(p.start), true))
	}
	return p.printed
}

// progressLine is a plain-mode line: what is done, of how much, the rate
// and, when the total is known, an estimate of the time left.
func progressLine(name string, unit progressUnit, done, total int64, elapsed time.Duration, end bool) string {
	el := elapsed.Round(100 * time.Millisecond)
	if unit == unitNone {
		if end {
			return fmt.Sprintf("%s: done in %s", name, el)
		}
		return fmt.Sprintf("%s: running, %s elapsed", name, el)
	}
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(done) / s
	}
	amount := func(n int64) string { return fmt.Sprintf("%d steps", n) }
	speed := fmt.Sprintf("%.0f steps/s", rate)
	if unit == unitBytes {
		amount = func(n int64) string { return formatBytes(float64(n)) }
		speed = formatBytes(rate) + "/s"
	}
	if end {
		return fmt.Sprintf("%s: done, %s in %s, %s", name, amount(done), el, speed)
	}
	line := fmt.Sprintf("%s: %s", name, amount(done))
	if total > 0 {
		line += fmt.Sprintf(" of %s (%.0f%%)", amount(total), 100*float64(done)/float64(total))
	}
	line += ", " + speed
	if total > 0 && rate > 0 && done < total {
		left := time.Duration(float64(total-done) / rate * float64(time.Second))
		line += fmt.Sprintf(", about %s left", left.Round(time.Second))
	}
	return line + fmt.Sprintf(", %s elapsed", el)
}

func formatBytes(n float64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%.0f B", n)
	}
	for _, u := range []string{"KiB", "MiB", "GiB"} {
		n /= unit
		if n < unit || u == "GiB" {
			return fmt.Sprintf("%.1f %s", n, u)
		}
	}
	return ""
}

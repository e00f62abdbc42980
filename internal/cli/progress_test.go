package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeClock is a clock that moves only when told.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// plainProgress is a plain-mode display on lines with a fake clock and no
// ticker, so the test decides when time passes.
func plainProgress(lines io.Writer, name string, total int64, unit progressUnit, c *fakeClock) *progress {
	p := &progress{name: name, unit: unit, total: total, now: c.now, lines: lines, start: c.now(), last: c.now(),
		stop: make(chan struct{}), stopped: make(chan struct{})}
	close(p.stopped)
	return p
}

func TestProgressLines(t *testing.T) {
	c := &fakeClock{t: time.Unix(1000, 0)}
	var b bytes.Buffer
	p := plainProgress(&b, "snapshot convert x.bin", 40<<20, unitBytes, c)
	c.advance(time.Second)
	p.set(5 << 20) // before progressEvery: no line
	c.advance(time.Second)
	p.set(10 << 20)
	c.advance(time.Second)
	p.set(12 << 20) // 1 s after the last line: none
	c.advance(time.Second)
	p.set(20 << 20)
	if !p.finish() {
		t.Error("finish after periodic lines says nothing was shown")
	}
	want := "snapshot convert x.bin: 10.0 MiB of 40.0 MiB (25%), 5.0 MiB/s, about 6s left, 2s elapsed\n" +
		"snapshot convert x.bin: 20.0 MiB of 40.0 MiB (50%), 5.0 MiB/s, about 4s left, 4s elapsed\n" +
		"snapshot convert x.bin: done, 20.0 MiB in 4s, 5.0 MiB/s\n"
	if b.String() != want {
		t.Errorf("lines:\n%s\nwant:\n%s", b.String(), want)
	}

	// Work shorter than progressEvery shows nothing at all.
	b.Reset()
	p = plainProgress(&b, "vm run", 0, unitSteps, c)
	c.advance(time.Second)
	p.set(1000)
	if p.finish() || b.Len() != 0 {
		t.Errorf("short work wrote %q", b.String())
	}

	for _, tc := range []struct {
		unit        progressUnit
		done, total int64
		elapsed     time.Duration
		end         bool
		want        string
	}{
		{unitSteps, 3000000, 0, 2 * time.Second, false, "w: 3000000 steps, 1500000 steps/s, 2s elapsed"},
		{unitSteps, 3000000, 0, 2 * time.Second, true, "w: done, 3000000 steps in 2s, 1500000 steps/s"},
		{unitSteps, 0, 0, 0, false, "w: 0 steps, 0 steps/s, 0s elapsed"},
		{unitBytes, 512, 1024, time.Second, false, "w: 512 B of 1.0 KiB (50%), 512 B/s, about 1s left, 1s elapsed"},
		{unitNone, 0, 0, 4200 * time.Millisecond, false, "w: running, 4.2s elapsed"},
		{unitNone, 0, 0, 4200 * time.Millisecond, true, "w: done in 4.2s"},
	} {
		if got := progressLine("w", tc.unit, tc.done, tc.total, tc.elapsed, tc.end); got != tc.want {
			t.Errorf("progressLine(%v, %d, %d, %s, %v) = %q, want %q", tc.unit, tc.done, tc.total, tc.elapsed, tc.end, got, tc.want)
		}
	}
}

// runCLI runs proofd in this process with stdout a buffer, not a terminal.
func runCLI(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	if code := Run(context.Background(), args, &out, &errb); code != 0 {
		t.Fatalf("proofd %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errb.String())
	}
	return out.String(), errb.String()
}

// TestProgressPlainMode: with stdout not a terminal, vm run and snapshot
// convert write progress lines on stderr and nothing more on stdout, and
// proofs on stdout stay exactly the proof JSON.
func TestProgressPlainMode(t *testing.T) {
	old := progressEvery
	progressEvery = time.Nanosecond // a line at every update
	t.Cleanup(func() { progressEvery = old })
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	runCLI(t, "vm", "load-elf", "--path", filepath.Join("..", "..", "testdata", "guests", "hello.elf"), "--out", p("pre.snap"))

	out, errs := runCLI(t, "vm", "run", "--input", p("pre.snap"), "--output", p("final.snap"), "--info-at", "never")
	if out != "" {
		t.Errorf("vm run stdout %q, want nothing", out)
	}
	if !strings.Contains(errs, "vm run: 16384 steps, ") || !strings.Contains(errs, "steps/s") || !strings.Contains(errs, "vm run: done, ") {
		t.Errorf("vm run stderr has no progress lines:\n%s", errs)
	}

	out, errs = runCLI(t, "vm", "run", "--input", p("pre.snap"), "--info-at", "never", "--stop-at", "=40000", "--proof-at", "=30000", "--proof-fmt", "-")
	dec := json.NewDecoder(strings.NewReader(out))
	var proof map[string]any
	if err := dec.Decode(&proof); err != nil || proof["step"] != 30000.0 {
		t.Errorf("vm run --proof-fmt - stdout is not the proof: %v\n%s", err, out)
	}
	if dec.More() {
		t.Errorf("vm run --proof-fmt - stdout has more than the proof:\n%s", out)
	}
	if !strings.Contains(errs, "vm run: ") {
		t.Errorf("vm run --proof-fmt - stderr has no progress lines:\n%s", errs)
	}

	for _, conv := range [][2]string{{p("final.snap"), p("final.bin")}, {p("final.bin"), p("again.snap")}} {
		out, errs = runCLI(t, "snapshot", "convert", conv[0], conv[1])
		if out != "wrote "+conv[1]+"\n" {
			t.Errorf("snapshot convert stdout %q", out)
		}
		name := "snapshot convert " + filepath.Base(conv[0]) + ": "
		if !strings.Contains(errs, name) || !strings.Contains(errs, "/s") || !strings.Contains(errs, name+"done, ") {
			t.Errorf("snapshot convert stderr has no progress lines:\n%s", errs)
		}
	}
}

// TestProgressTimer: work with nothing to count (an engine call) gets
// "running" lines from a timer and a last "done" line, all on stderr.
func TestProgressTimer(t *testing.T) {
	old := progressEvery
	progressEvery = time.Millisecond
	t.Cleanup(func() { progressEvery = old })
	var out, errb bytes.Buffer
	a := &app{stdout: &out, stderr: &errb}
	p := a.progress("setup mimc", 0, unitNone, false)
	time.Sleep(60 * time.Millisecond)
	if !p.finish() {
		t.Error("finish says nothing was shown")
	}
	if out.Len() != 0 || !strings.HasPrefix(errb.String(), "setup mimc: running, ") || !strings.Contains(errb.String(), "setup mimc: done in ") {
		t.Errorf("stdout %q, stderr %q", out.String(), errb.String())
	}
}

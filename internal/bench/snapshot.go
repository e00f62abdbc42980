package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum-optimism/optimism/cannon/mipsevm/arch"
	"github.com/ethereum-optimism/optimism/cannon/mipsevm/memory"
	"github.com/ethereum-optimism/optimism/cannon/mipsevm/multithreaded"
	"github.com/ethereum-optimism/optimism/cannon/mipsevm/versions"
	"github.com/ethereum-optimism/optimism/op-service/serialize"
	"github.com/ethereum/go-ethereum/common"

	"github.com/proofd/proofd/snapshot"
)

// SnapshotConfig configures the snapshot benchmark.
type SnapshotConfig struct {
	// MiB is the guest memory each state holds (default 300, or 8 with Quick).
	MiB int
	// Quick uses 8 MiB states and 2 repetitions, for tests.
	Quick bool
	// Dir is where files are written (default a temp dir, removed afterwards).
	Dir string
	// Progress receives one line per phase; nil for none.
	Progress io.Writer
}

// SnapshotChildEnv carries a child's job (JSON) to the process Snapshot
// starts to measure peak RSS while writing; see SnapshotChild.
const SnapshotChildEnv = "PROOFD_BENCH_SNAPSHOT_CHILD"

// SnapshotChildArgs are the arguments Snapshot starts its own executable
// with for such a child: proofd's hidden "bench snapshot child", which
// calls SnapshotChild. A test binary dispatches on SnapshotChildEnv in
// TestMain instead.
var SnapshotChildArgs = []string{"bench", "snapshot", "child"}

// The three contents a state's memory is filled with.
var snapshotKinds = []string{"sparse", "mixed", "random"}

// The writers a peak-RSS child can run.
const (
	writerProofdCold = "proofd-cold" // snapshot.Write, page hashes not cached: it hashes all memory
	writerProofdWarm = "proofd-warm" // snapshot.Write after Cannon merkleized the state
	writerCannonGz   = "cannon-gz"   // Cannon's serialize.Write to .bin.gz
	writerCannonBin  = "cannon-bin"  // Cannon's serialize.Write to .bin
)

// Snapshot measures proofd's snapshot format against Cannon's own .bin.gz
// and .bin on states of MiB of guest memory holding sparse, mixed and
// random pages, each case alternated with its baselines in one run:
//
//   - write: snapshot.Write with cold page hashes (it must hash all memory
//     to put the claim in the header; the honest case) and warm (a state
//     Cannon just merkleized), vs Cannon's serialize.Write, which hashes
//     nothing and does not fsync (the fsync is timed on its own);
//   - file size;
//   - file to claim: snapshot.ReadInfo vs Cannon's load and EncodeWitness,
//     which re-merkleizes all memory (Cannon has no cheaper way);
//   - file to a loaded state with its first witness: snapshot.Load (which
//     hashes every page on all cores) and EncodeWitness vs Cannon's load
//     and EncodeWitness;
//   - peak RSS while writing, in a child process per writer (the same
//     executable, SnapshotChildArgs): over guest memory, which counts the
//     Cannon state itself (about 2.1 times its guest memory), and the
//     growth while writing in MiB, which is the writer's own.
func Snapshot(ctx context.Context, cfg SnapshotConfig) (*Report, error) {
	b := &snapBench{ctx: ctx, progress: cfg.Progress, mib: 300, reps: 3, claimReads: 20, s: samples{}, bytes: map[string]int64{}, rss: map[string]childResult{}}
	if cfg.Quick {
		b.mib, b.reps, b.claimReads = 8, 2, 5
	}
	switch {
	case cfg.MiB > 0:
		b.mib = cfg.MiB
	case cfg.MiB < 0:
		return nil, fmt.Errorf("bench snapshot: MiB %d: want a positive size", cfg.MiB)
	}
	var err error
	if b.exe, err = os.Executable(); err != nil {
		return nil, fmt.Errorf("bench snapshot: find own executable for the RSS child: %w", err)
	}
	b.dir = cfg.Dir
	if b.dir == "" {
		if b.dir, err = os.MkdirTemp("", "proofd-bench-snapshot-"); err != nil {
			return nil, fmt.Errorf("bench snapshot: %w", err)
		}
		defer os.RemoveAll(b.dir)
	} else if err := os.MkdirAll(b.dir, 0o755); err != nil {
		return nil, fmt.Errorf("bench snapshot: %w", err)
	}
	rep := newReport("snapshot")
	for _, kind := range snapshotKinds {
		if err := b.run(kind); err != nil {
			return nil, fmt.Errorf("bench snapshot: %s: %w", kind, err)
		}
		b.ratios(rep, kind)
	}
	rep.addRows(b.s, b.order)
	for i := range rep.Rows {
		rep.Rows[i].Bytes = b.bytes[rep.Rows[i].Case]
	}
	return rep, nil
}

// snapBench is one run of the snapshot benchmark.
type snapBench struct {
	ctx        context.Context
	progress   io.Writer
	exe, dir   string
	mib        int
	reps       int
	claimReads int // ReadInfo calls per repetition: one takes microseconds

	s     samples
	order []string
	bytes map[string]int64       // case -> file size or peak RSS
	rss   map[string]childResult // "kind writer" -> what its child measured
}

func (b *snapBench) logf(format string, args ...any) {
	if b.progress != nil {
		fmt.Fprintf(b.progress, "bench snapshot: "+format+"\n", args...)
	}
}

func caseName(op, kind, who string) string { return op + " " + kind + " " + who }

// time runs fn as one sample of case c, after a collection so that no
// earlier case's garbage is collected on its clock.
func (b *snapBench) time(c string, fn func() error) error {
	if err := b.ctx.Err(); err != nil {
		return err
	}
	if _, ok := b.s[c]; !ok {
		b.order = append(b.order, c)
	}
	runtime.GC()
	return timeit(b.s, c, fn)
}

// files are the three files one kind's state is written to.
type files struct{ snap, gz, bin string }

func (b *snapBench) run(kind string) error {
	f := files{
		snap: filepath.Join(b.dir, kind+".snap"),
		gz:   filepath.Join(b.dir, kind+".bin.gz"),
		bin:  filepath.Join(b.dir, kind+".bin"),
	}
	defer func() {
		for _, p := range []string{f.snap, f.gz, f.bin} {
			os.Remove(p)
		}
	}()
	// Children first, while this process holds no state.
	runtime.GC()
	debug.FreeOSMemory()
	for _, w := range []string{writerProofdCold, writerCannonGz, writerProofdWarm} {
		b.logf("%s: peak RSS writing %d MiB with %s (child process)", kind, b.mib, w)
		if err := b.child(kind, w); err != nil {
			return err
		}
	}
	if err := b.writes(kind, f); err != nil {
		return err
	}
	// The state is garbage now: give its memory back before loading.
	runtime.GC()
	debug.FreeOSMemory()
	b.logf("%s: claim and load x%d: proofd, cannon .bin.gz, cannon .bin", kind, b.reps)
	return b.loads(kind, f)
}

// writes builds kind's state and times writing it, alternating proofd
// (cold, then warm) with Cannon's .bin.gz and .bin writers.
func (b *snapBench) writes(kind string, f files) error {
	b.logf("%s: building a %d MiB state", kind, b.mib)
	vs := snapshotState(kind, b.mib<<8)
	mt := vs.FPVMState.(*multithreaded.State)
	b.logf("%s: write x%d: proofd cold, cannon .bin.gz, cannon .bin, proofd warm", kind, b.reps)
	writeSnap := func() error { return snapshot.Write(f.snap, vs, snapshot.Options{}) }
	for range b.reps {
		coldCaches(mt)
		if err := b.time(caseName("write", kind, writerProofdCold), writeSnap); err != nil {
			return err
		}
		for _, c := range []struct{ who, path string }{{writerCannonGz, f.gz}, {writerCannonBin, f.bin}} {
			if err := b.time(caseName("write", kind, c.who), func() error { return serialize.Write(c.path, vs, 0o644) }); err != nil {
				return err
			}
			// Cannon's writer does not fsync; proofd's does. Flushing here,
			// on its own clock, keeps Cannon's dirty pages from being
			// written back during the next case.
			if err := b.time(caseName("fsync", kind, c.who), func() error { return fsync(c.path) }); err != nil {
				return err
			}
		}
		// The cold write filled Cannon's page caches: this is a state that
		// was just merkleized.
		if err := b.time(caseName("write", kind, writerProofdWarm), writeSnap); err != nil {
			return err
		}
	}
	for who, path := range map[string]string{writerProofdCold: f.snap, writerProofdWarm: f.snap, writerCannonGz: f.gz, writerCannonBin: f.bin} {
		fi, err := os.Stat(path)
		if err != nil {
			return err
		}
		b.bytes[caseName("write", kind, who)] = fi.Size()
	}
	return nil
}

// loads times getting the claim and a loaded state with its witness from
// each file, checking every claim against the snapshot header's.
func (b *snapBench) loads(kind string, f files) error {
	info, err := snapshot.ReadInfo(f.snap)
	if err != nil {
		return err
	}
	want := info.Claim
	check := func(who string, got common.Hash) error {
		if got != want {
			return fmt.Errorf("%s claim %s, the snapshot header says %s", who, got, want)
		}
		return nil
	}
	cannon := func(who, path string) func() error {
		return func() error {
			vs, err := versions.LoadStateFromFile(path)
			if err != nil {
				return err
			}
			_, h := vs.EncodeWitness()
			return check(who, h)
		}
	}
	for range b.reps {
		for range b.claimReads {
			if err := b.time(caseName("claim", kind, "proofd"), func() error {
				i, err := snapshot.ReadInfo(f.snap)
				if err != nil {
					return err
				}
				return check("proofd header", i.Claim)
			}); err != nil {
				return err
			}
		}
		if err := b.time(caseName("load+witness", kind, "proofd"), func() error {
			vs, err := snapshot.Load(f.snap, snapshot.Options{})
			if err != nil {
				return err
			}
			_, h := vs.EncodeWitness()
			return check("proofd Load+EncodeWitness", h)
		}); err != nil {
			return err
		}
		if err := b.time(caseName("load+witness", kind, writerCannonGz), cannon(writerCannonGz, f.gz)); err != nil {
			return err
		}
		if err := b.time(caseName("load+witness", kind, writerCannonBin), cannon(writerCannonBin, f.bin)); err != nil {
			return err
		}
	}
	return nil
}

// ratios adds kind's ratios; mixed content has the names the issue gives,
// the others a _sparse or _random suffix.
func (b *snapBench) ratios(rep *Report, kind string) {
	sfx := ""
	if kind != "mixed" {
		sfx = "_" + kind
	}
	c := func(op, who string) string { return caseName(op, kind, who) }
	s := b.s
	rep.ratio("write_speedup_vs_cannon_gz"+sfx, s, c("write", writerCannonGz), c("write", writerProofdCold))
	rep.ratio("write_warm_speedup_vs_cannon_gz"+sfx, s, c("write", writerCannonGz), c("write", writerProofdWarm))
	rep.ratio("write_speedup_vs_cannon_bin"+sfx, s, c("write", writerCannonBin), c("write", writerProofdCold))
	size := func(who string) float64 { return float64(b.bytes[c("write", who)]) }
	if d := size(writerCannonGz); d > 0 {
		rep.Ratios["size_over_cannon_gz"+sfx] = round3(size(writerProofdCold) / d)
	}
	if d := size(writerCannonBin); d > 0 {
		rep.Ratios["size_over_cannon_bin"+sfx] = round3(size(writerProofdCold) / d)
	}
	// Microseconds: keep four decimals of a millisecond.
	rep.Ratios["claim_read_ms"+sfx] = math.Round(s.median(c("claim", "proofd"))*1e4) / 1e4
	rep.ratio("claim_speedup_vs_cannon_gz"+sfx, s, c("load+witness", writerCannonGz), c("claim", "proofd"))
	rep.ratio("load_to_witness_speedup_vs_cannon"+sfx, s, c("load+witness", writerCannonGz), c("load+witness", "proofd"))
	rep.ratio("load_to_witness_speedup_vs_cannon_bin"+sfx, s, c("load+witness", writerCannonBin), c("load+witness", "proofd"))
	// Peak RSS over guest memory includes the Cannon state being written,
	// which is about 2.1 times its guest memory (each 4 KiB page carries a
	// 4 KiB node cache); the growth while writing, in MiB, is the writer's.
	for who, prefix := range map[string]string{writerProofdCold: "write", writerProofdWarm: "write_warm", writerCannonGz: "cannon_gz_write"} {
		r := b.rss[kind+" "+who]
		if r.GuestBytes == 0 {
			continue
		}
		rep.Ratios[prefix+"_peak_rss_over_guest_mem"+sfx] = round3(float64(r.PeakRSS) / float64(r.GuestBytes))
		rep.Ratios[prefix+"_rss_growth_mib"+sfx] = round3(float64(r.PeakRSS-r.RSSBefore) / (1 << 20))
	}
}

// coldCaches forgets Cannon's page hashes, so the next Write hashes every
// page, as it must for a state that was never merkleized.
func coldCaches(mt *multithreaded.State) {
	_ = mt.Memory.ForEachPage(func(idx uint64, _ memory.Page) error {
		p, _ := mt.Memory.PageLookup(idx)
		p.InvalidateFull()
		return nil
	})
}

func fsync(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// snapshotState builds a Cannon MIPS64 state of the current version
// (multithreaded64, v8) with pages pages in the code, program heap, mmap
// and stack regions, filled by kind:
//
//   - sparse: every page zero but for 1 to 8 non-zero 64-bit words;
//   - mixed: a third zero-ish (all zero, or sparse), a third repetitive
//     (a short text or a 32-byte pattern repeated), a third random;
//   - random: every page random (incompressible).
//
// Every page is written, so its memory is resident as in a loaded state.
// The same kind and size give the same state.
func snapshotState(kind string, pages int) *versions.VersionedState {
	rng := rand.New(rand.NewPCG(uint64(pages), uint64(len(kind))))
	var seed [32]byte
	copy(seed[:], kind)
	random := rand.NewChaCha8(seed)
	st := multithreaded.CreateEmptyState()
	per := uint64(pages+3) / 4
	regions := []uint64{0x10, arch.ProgramHeapStart >> 12, arch.HeapStart >> 12, arch.HighMemoryStart>>12 - per}
	sparse := func(p []byte) {
		clear(p)
		for range 1 + rng.IntN(8) {
			binary.BigEndian.PutUint64(p[rng.IntN(len(p)/8)*8:], rng.Uint64()|1)
		}
	}
	for i := range pages {
		idx := regions[i%len(regions)] + uint64(i/len(regions))
		p := st.Memory.AllocPage(idx).Data
		switch kind {
		case "sparse":
			sparse(p)
		case "random":
			_, _ = random.Read(p)
		default:
			switch rng.IntN(6) {
			case 0:
				clear(p)
			case 1:
				sparse(p)
			case 2:
				fillRepeat(p, fmt.Appendf(nil, "page %#x repeats; ", idx))
			case 3:
				var pattern [32]byte
				_, _ = random.Read(pattern[:])
				fillRepeat(p, pattern[:])
			default:
				_, _ = random.Read(p)
			}
		}
	}
	st.Step = 1<<32 + uint64(pages)
	st.StepsSinceLastContextSwitch = 7
	st.Heap = arch.HeapStart + per*memory.PageSize
	st.LastHint = []byte("bench")
	th := st.GetCurrentThread()
	th.Cpu.PC, th.Cpu.NextPC = 0x10000, 0x10004
	th.Registers[29] = arch.HighMemoryStart - 0x100
	other := multithreaded.CreateEmptyThread()
	other.ThreadId = 1
	st.RightThreadStack = append(st.RightThreadStack, other)
	st.NextThreadId = 2
	return &versions.VersionedState{Version: versions.GetCurrentVersion(), FPVMState: st}
}

func fillRepeat(p, pattern []byte) {
	for k := 0; k < len(p); k += copy(p[k:], pattern) {
	}
}

// childJob is what a peak-RSS child is asked to do.
type childJob struct {
	Kind   string `json:"kind"`
	MiB    int    `json:"mib"`
	Writer string `json:"writer"`
	Dir    string `json:"dir"`
}

// childResult is what it measured.
type childResult struct {
	GuestBytes int64 `json:"guest_bytes"`
	// RSSBefore is the resident set once the state is built (and, for
	// proofd-warm, merkleized); PeakRSS the highest it reached while writing.
	RSSBefore int64 `json:"rss_before"`
	PeakRSS   int64 `json:"peak_rss"`
	WriteNS   int64 `json:"write_ns"`
	// PeakReset says the kernel's high-water mark was reset before the
	// write, so PeakRSS is the write's own peak, not the build's.
	PeakReset bool `json:"peak_reset"`
}

// child measures one writer's peak RSS in a process of its own.
func (b *snapBench) child(kind, writer string) error {
	job, err := json.Marshal(childJob{Kind: kind, MiB: b.mib, Writer: writer, Dir: b.dir})
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(b.ctx, b.exe, SnapshotChildArgs...)
	cmd.Env = append(os.Environ(), SnapshotChildEnv+"="+string(job))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("peak RSS child %s %s (%s %s): %w: %s", kind, writer, b.exe, strings.Join(SnapshotChildArgs, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	var r childResult
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &r); err != nil {
		return fmt.Errorf("peak RSS child %s %s (%s %s) printed %q, not its result: %w", kind, writer, b.exe, strings.Join(SnapshotChildArgs, " "), stdout.Bytes(), err)
	}
	if !r.PeakReset {
		b.logf("%s: %s: could not reset the peak RSS mark; the peak includes building the state", kind, writer)
	}
	c := caseName("peak-rss-write", kind, writer)
	b.order = append(b.order, c)
	b.s[c] = append(b.s[c], time.Duration(r.WriteNS))
	b.bytes[c] = r.PeakRSS
	b.rss[kind+" "+writer] = r
	return nil
}

// SnapshotChild is the process Snapshot starts to measure the peak RSS of
// one write: it builds the state job (SnapshotChildEnv's JSON) names,
// resets the kernel's high-water mark of its resident set, writes the
// state once, and prints a JSON result on w.
//
// It reads VmHWM from /proc/self/status rather than getrusage's ru_maxrss:
// Go starts a child with vfork semantics (CLONE_VM), so the child's
// ru_maxrss starts at the parent's high-water mark (a 1 GiB parent gives
// a fresh child a ru_maxrss of 1 GiB), and it cannot be reset.
func SnapshotChild(job string, w io.Writer) error {
	var j childJob
	if err := json.Unmarshal([]byte(job), &j); err != nil {
		return fmt.Errorf("bench snapshot child: job %q: %w", job, err)
	}
	if j.MiB <= 0 || !slices.Contains(snapshotKinds, j.Kind) {
		return fmt.Errorf("bench snapshot child: job %q: want a kind of %v and a positive size", job, snapshotKinds)
	}
	vs := snapshotState(j.Kind, j.MiB<<8)
	var write func() error
	path := filepath.Join(j.Dir, fmt.Sprintf("child-%d-%s-%s", os.Getpid(), j.Kind, j.Writer))
	switch j.Writer {
	case writerProofdWarm:
		vs.EncodeWitness()
		fallthrough
	case writerProofdCold:
		path += ".snap"
		write = func() error { return snapshot.Write(path, vs, snapshot.Options{}) }
	case writerCannonGz, writerCannonBin:
		path += map[string]string{writerCannonGz: ".bin.gz", writerCannonBin: ".bin"}[j.Writer]
		write = func() error { return serialize.Write(path, vs, 0o644) }
	default:
		return fmt.Errorf("bench snapshot child: writer %q: want %s, %s, %s or %s", j.Writer, writerProofdCold, writerProofdWarm, writerCannonGz, writerCannonBin)
	}
	defer os.Remove(path)
	runtime.GC()
	debug.FreeOSMemory()
	r := childResult{GuestBytes: int64(j.MiB) << 20}
	// "5" resets the resident set's high-water mark (Linux 4.0 and later).
	r.PeakReset = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
	var err error
	if r.RSSBefore, err = procStatus("VmRSS"); err != nil {
		return err
	}
	start := time.Now()
	if err := write(); err != nil {
		return fmt.Errorf("bench snapshot child: %w", err)
	}
	r.WriteNS = time.Since(start).Nanoseconds()
	if r.PeakRSS, err = procStatus("VmHWM"); err != nil {
		return err
	}
	runtime.KeepAlive(vs)
	return json.NewEncoder(w).Encode(r)
}

// procStatus reads a size field ("VmRSS", "VmHWM") of /proc/self/status in bytes.
func procStatus(field string) (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("bench snapshot child: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bench snapshot child: /proc/self/status %s %q: %w", field, value, err)
		}
		return kb << 10, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("bench snapshot child: /proc/self/status: %w", err)
	}
	return 0, fmt.Errorf("bench snapshot child: /proc/self/status has no %s: %w", field, errors.ErrUnsupported)
}

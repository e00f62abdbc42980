package vmengine_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/engine"
	"github.com/proofd/proofd/engine/enginetest"
	"github.com/proofd/proofd/engine/vmclient"
	"github.com/proofd/proofd/snapshot"
	"github.com/proofd/proofd/vm"
	"github.com/proofd/proofd/vm/vmengine"
)

// bigPrestate is the hello guest with mib MiB of seeded random bytes
// written into memory it never touches: a real state whose memory is that
// large and shares nothing with another seed's.
func bigPrestate(t *testing.T, seed uint64, mib int) artifact.Artifact {
	t.Helper()
	st, _, err := vm.LoadELF(guest("hello"))
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, mib<<20)
	rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)}).Read(data)
	if err := st.GetMemory().SetMemoryRange(0x7000_0000_0000, strings.NewReader(string(data))); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "big.bin")
	if err := vm.WriteState(path, st); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(path)
	return artifact.New(b)
}

// procStatus reads a kB field (VmRSS, VmHWM) of /proc/pid/status in bytes.
func procStatus(t *testing.T, pid int64, field string) uint64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// TestBudgetBoundsEngineMemory loads ten distinct prestates of 64 MiB of
// memory each into a spawned engine with a 512 MiB budget. Each trace
// holds about 400 MiB (two snapshots and room for a cursor, each a copy
// of memory with its page hashes, about 2.1 times its size), so without
// eviction the engine would hold over 4 GiB; with it, the engine's peak
// resident set stays under the budget plus the headroom the engine gives
// the Go collector (an eighth of the budget and 128 MiB: the runtime, an
// upload in flight, a call's working memory, a decoded prestate before
// its trace is counted) and 128 MiB for what the Go memory limit does not
// govern (the executable's mapped code and data, thread stacks). Measured
// on two busy cores: 467 MiB counted, peak RSS 730 MiB of the 832 allowed.
func TestBudgetBoundsEngineMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: ten 64 MiB prestates take about a minute on two cores")
	}
	const budget = 512 << 20
	const overhead = budget/8 + 128<<20 + 128<<20
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := engine.Spawn(ctx, engine.SpawnOptions{Path: enginetest.Proofd(t),
		Args: []string{"engine", "serve", "--kind", "vm", "--exit-on-stdin-eof", "--max-resident-bytes", strconv.Itoa(budget)}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pid := c.Info().GetPid()
	var first artifact.Digest
	for k := range 10 {
		pre := bigPrestate(t, uint64(k), 64)
		if k == 0 {
			first = pre.Digest
		}
		info, err := vmclient.New(c).Load(ctx, vmclient.LoadRequest{Prestate: pre, MaxSteps: 100_000, SnapshotEvery: 50_000})
		if err != nil {
			t.Fatalf("load %d: %v", k, err)
		}
		h, err := c.Health(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("load %d: %d snapshots, resident %d MiB counted, engine RSS %d MiB, peak %d MiB", k, info.Snapshots,
			h.GetResidentBytes()>>20, procStatus(t, pid, "VmRSS")>>20, procStatus(t, pid, "VmHWM")>>20)
		if h.GetResidentBytes() > budget {
			t.Fatalf("load %d: %d bytes counted resident, over the budget of %d", k, h.GetResidentBytes(), budget)
		}
	}
	if peak := procStatus(t, pid, "VmHWM"); peak > budget+overhead {
		t.Fatalf("engine peak RSS %d MiB, over the budget of %d MiB plus %d MiB headroom", peak>>20, budget>>20, overhead>>20)
	}
	if _, err := vmclient.New(c).ClaimAt(ctx, first, 1); !errors.Is(err, vmclient.ErrNotLoaded) {
		t.Fatalf("the first prestate, least recently used: got %v, want it evicted (ErrNotLoaded)", err)
	}
}

// TestPrestateOverBudgetRefusedBeforeDecoding: the engine passes its budget
// to the state reader as the ceiling on decoded memory, so a small .bin.gz
// whose pages would not fit is refused from its page count, as
// RESOURCE_EXHAUSTED (an engine with a larger budget could take it), not
// decoded first.
func TestPrestateOverBudgetRefusedBeforeDecoding(t *testing.T) {
	st, _, err := vm.LoadELF(guest("hello"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "prestate.bin.gz")
	if err := vm.WriteState(path, st); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pages := uint64(st.GetMemory().PageCount())
	budget := max(uint64(len(data))*2, pages*snapshot.PageMemoryCost/2)
	cfg, err := vmengine.Config(nil, vmengine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxResidentBytes = budget
	c := enginetest.InProcess(t, cfg)
	_, err = vmclient.New(c).Load(ctxT(t), vmclient.LoadRequest{Prestate: artifact.New(data)})
	if err == nil || !strings.Contains(err.Error(), codes.ResourceExhausted.String()) {
		t.Fatalf("a %d-byte .bin.gz of %d pages under a %d-byte budget: got %v, want RESOURCE_EXHAUSTED", len(data), pages, budget, err)
	}
	if !strings.Contains(err.Error(), snapshot.ErrMemoryLimit.Error()) {
		t.Fatalf("got %v, want it to say %q", err, snapshot.ErrMemoryLimit)
	}
}

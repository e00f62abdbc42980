package snapshot

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/ethereum-optimism/optimism/cannon/mipsevm/arch"
	"github.com/ethereum-optimism/optimism/cannon/mipsevm/multithreaded"
	"github.com/ethereum-optimism/optimism/cannon/mipsevm/versions"
	"github.com/ethereum-optimism/optimism/op-service/serialize"
)

// TestMain fails the package if a test leaves a goroutine behind.
func TestMain(m *testing.M) {
	code := m.Run()
	if err := goleak.Find(); err != nil {
		fmt.Fprintln(os.Stderr, "goleak:", err)
		code = 1
	}
	os.Exit(code)
}

// testState builds a Cannon state without an ELF: pages spread over the
// code, heap, mmap and stack regions with mixed content (zero, random,
// repetitive, sparse words), two thread stacks, and non-trivial scalars.
func testState(seed uint64, pages int) *versions.VersionedState {
	rng := rand.New(rand.NewPCG(seed, 1))
	st := multithreaded.CreateEmptyState()
	regions := []uint64{0, 1 << 20, arch.ProgramHeapStart >> 12, arch.HeapStart >> 12, arch.HighMemoryStart>>12 - 1<<20}
	for i := range pages {
		idx := regions[i%len(regions)] + uint64(i/len(regions))
		p := st.Memory.AllocPage(idx)
		switch i % 4 {
		case 0: // zero page
		case 1:
			for k := range p.Data {
				p.Data[k] = byte(rng.Uint32())
			}
		case 2:
			copy(p.Data, bytes.Repeat([]byte(fmt.Sprintf("page %d repeats ", idx)), PageSize))
		case 3:
			for range 8 {
				binary.BigEndian.PutUint64(p.Data[rng.IntN(PageSize/8)*8:], rng.Uint64())
			}
		}
	}
	st.Step = rng.Uint64() >> 8
	st.StepsSinceLastContextSwitch = 7
	st.Heap = arch.HeapStart + 0x1000
	st.PreimageOffset = 24
	st.PreimageKey[0], st.PreimageKey[31] = 2, byte(seed)
	st.LLReservationStatus = multithreaded.LLStatusActive64bit
	st.LLAddress = 0x1008
	st.LastHint = []byte("hint-in-progress")
	th := st.GetCurrentThread()
	th.Cpu.PC, th.Cpu.NextPC = 0x10000, 0x10004
	for r := range th.Registers {
		th.Registers[r] = rng.Uint64()
	}
	other := multithreaded.CreateEmptyThread()
	other.ThreadId = 1
	other.Registers[29] = arch.HighMemoryStart
	st.RightThreadStack = append(st.RightThreadStack, other)
	st.NextThreadId = 2
	return &versions.VersionedState{Version: versions.GetCurrentVersion(), FPVMState: st}
}

func mt(vs *versions.VersionedState) *multithreaded.State { return vs.FPVMState.(*multithreaded.State) }

// cannonBytes is Cannon's own serialization of vs.
func cannonBytes(t testing.TB, vs *versions.VersionedState) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := vs.Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// cannonFile writes vs with Cannon's own writer (.bin or .bin.gz by name).
func cannonFile(t testing.TB, dir, name string, vs *versions.VersionedState) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := serialize.Write(path, vs, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeSnapshot(t testing.TB, dir string, vs *versions.VersionedState, opts Options) string {
	t.Helper()
	path := filepath.Join(dir, "state.snap")
	if err := Write(path, vs, opts); err != nil {
		t.Fatal(err)
	}
	return path
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mustFailNaming asserts that err is a content error naming path and an offset.
func mustFailNaming(t *testing.T, err error, path string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	if !bytes.Contains([]byte(err.Error()), []byte(path)) || !bytes.Contains([]byte(err.Error()), []byte("offset ")) {
		t.Fatalf("error %q does not name the file and an offset", err)
	}
}

package vm

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ethereum-optimism/optimism/cannon/mipsevm/versions"
	preimage "github.com/ethereum-optimism/optimism/op-preimage"
	"github.com/ethereum/go-ethereum/crypto"
	"go.uber.org/goleak"

	"github.com/proofd/proofd/engine/enginetest"
	"github.com/proofd/proofd/internal/cannontest"
)

// serverModeEnv makes the test binary a preimage server (see serve).
const serverModeEnv = "PROOFD_VM_TEST_SERVER"

// TestMain runs the test binary as a preimage server when asked to, and
// otherwise fails the package if a test leaves goroutines or child
// processes behind.
func TestMain(m *testing.M) {
	if mode := os.Getenv(serverModeEnv); mode != "" {
		os.Exit(serve(mode))
	}
	code := m.Run()
	cannontest.Cleanup()
	if err := enginetest.CheckNoChildren(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	if err := goleak.Find(); err != nil {
		fmt.Fprintln(os.Stderr, "goleak:", err)
		code = 1
	}
	os.Exit(code)
}

const (
	helloELF    = "../testdata/guests/hello.elf"
	preimageELF = "../testdata/guests/preimage.elf"
)

// guestInput is the keccak preimage the preimage guest reads; it spans
// several 8-byte reads so that proofs at non-zero offsets exist.
var guestInput = []byte("proofd preimage guest: a keccak preimage served through Cannon's oracle protocol")

// guestKV is what the preimage guest asks for: local key 1 holds the
// Keccak-256 hash of guestInput, and that hash (as a type-2 key) holds
// guestInput.
func guestKV() map[[32]byte][]byte {
	h := crypto.Keccak256(guestInput)
	return map[[32]byte][]byte{
		preimage.LocalIndexKey(1).PreimageKey():                               h,
		preimage.Keccak256Key(crypto.Keccak256Hash(guestInput)).PreimageKey(): guestInput,
	}
}

// serve is the test binary's preimage-server mode:
//
//	kv     serve guestKV on fds 3-6 until the host closes the channels
//	exit3  exit with status 3 at once
//	hang   start a grandchild ("sleep") in the same process group, print its
//	       pid, and never answer
//	sleep  sleep
func serve(mode string) int {
	switch mode {
	case "kv":
		if err := cannontest.ServeKV(guestKV()); err != nil {
			fmt.Fprintln(os.Stderr, "test server:", err)
			return 1
		}
		return 0
	case "exit3":
		return 3
	case "hang":
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), serverModeEnv+"=sleep")
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, "test server:", err)
			return 1
		}
		fmt.Println(cmd.Process.Pid)
		select {}
	case "sleep":
		time.Sleep(time.Hour)
		return 0
	}
	fmt.Fprintln(os.Stderr, "test server: unknown mode", mode)
	return 2
}

// serverArgv is the command that runs this test binary as a server in
// mode; it sets the mode in the environment, which children inherit.
func serverArgv(t *testing.T, mode string) []string {
	t.Setenv(serverModeEnv, mode) // for children only: TestMain read it long ago
	// A -race binary sleeps a second before it exits; not the server.
	t.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return []string{exe}
}

// cannon runs the real cannon binary (see cannontest) in dir.
func cannon(t *testing.T, dir string, args ...string) []byte {
	t.Helper()
	return cannontest.Run(t, dir, args...)
}

// loadELF is LoadELF that fails the test on error.
func loadELF(t *testing.T, path string) *versions.VersionedState {
	t.Helper()
	st, _, err := LoadELF(path)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// readStep is a step at which the guest read preimage bytes.
type readStep struct {
	step   uint64
	key    [32]byte
	offset uint64
}

// preimageReads runs the preimage guest with the KV oracle one step at a
// time and returns the steps that read preimage data.
func preimageReads(t *testing.T) []readStep {
	t.Helper()
	st := loadELF(t, preimageELF)
	m := NewMachine(st, NewKVOracle(guestKV()), nil, nil, nil)
	var reads []readStep
	for !m.Exited() {
		step, off := m.Step(), st.GetPreimageOffset()
		if err := m.stepOne(); err != nil {
			t.Fatal(err)
		}
		if st.GetPreimageOffset() > off {
			reads = append(reads, readStep{step: step, key: st.GetPreimageKey(), offset: off})
		}
	}
	return reads
}

// pickReads returns the first read of the local input and a read of the
// keccak preimage past its length prefix.
func pickReads(t *testing.T, reads []readStep) (local, keccak readStep) {
	t.Helper()
	var gotLocal, gotKeccak bool
	for _, r := range reads {
		switch {
		case r.key[0] == 1 && !gotLocal:
			local, gotLocal = r, true
		case r.key[0] == 2 && r.offset >= 16 && !gotKeccak:
			keccak, gotKeccak = r, true
		}
	}
	if !gotLocal || !gotKeccak {
		t.Fatalf("preimage guest reads %v: want a local read and a keccak read at offset >= 16", reads)
	}
	return local, keccak
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

func sortedSteps(set map[uint64]bool) []uint64 {
	var out []uint64
	for s := range set {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

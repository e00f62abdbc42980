package vm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum-optimism/optimism/cannon/mipsevm/versions"
	preimage "github.com/ethereum-optimism/optimism/op-preimage"
	"github.com/ethereum/go-ethereum/crypto"
	"go.uber.org/goleak"

	"github.com/proofd/proofd/engine/enginetest"
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
	if cannonDir != "" {
		os.RemoveAll(cannonDir)
	}
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
		if err := serveKV(guestKV()); err != nil {
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

// serveKV is the server side of Cannon's host protocol, from op-preimage:
// hints arrive on fd 3 and are acked on fd 4, keys arrive on fd 5 and
// answers go out on fd 6.
func serveKV(kv map[[32]byte][]byte) error {
	hints := preimage.NewHintReader(preimage.NewReadWritePair(os.NewFile(3, "hint-read"), os.NewFile(4, "hint-write")))
	oracle := preimage.NewOracleServer(preimage.NewReadWritePair(os.NewFile(5, "preimage-read"), os.NewFile(6, "preimage-write")))
	errs := make(chan error, 2)
	go func() {
		for {
			if err := hints.NextHint(func(string) error { return nil }); err != nil {
				errs <- eofIsDone(err)
				return
			}
		}
	}()
	go func() {
		for {
			err := oracle.NextPreimageRequest(func(k [32]byte) ([]byte, error) {
				if v, ok := kv[k]; ok {
					return v, nil
				}
				return nil, fmt.Errorf("unknown key %x", k)
			})
			if err != nil {
				errs <- eofIsDone(err)
				return
			}
		}
	}()
	return errors.Join(<-errs, <-errs)
}

func eofIsDone(err error) error {
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
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

var (
	cannonOnce sync.Once
	cannonDir  string
	cannonPath string
	cannonErr  error
)

// cannonBinary builds Cannon's own CLI from the optimism module in the
// module cache (it needs op-geth, which the Go module proxy serves; Go's
// build cache makes later builds quick) and returns its path. Without it
// the test is skipped, unless PROOFD_REQUIRE_CANNON is set.
func cannonBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: not building the cannon binary")
	}
	cannonOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", "github.com/ethereum-optimism/optimism").Output()
		if err != nil {
			cannonErr = fmt.Errorf("locate the optimism module: %w", err)
			return
		}
		if cannonDir, cannonErr = os.MkdirTemp("", "proofd-cannon-"); cannonErr != nil {
			return
		}
		cannonPath = filepath.Join(cannonDir, "cannon")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", cannonPath, "./cannon")
		cmd.Dir = strings.TrimSpace(string(out))
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod -buildvcs=false", "GOWORK=off")
		if b, err := cmd.CombinedOutput(); err != nil {
			cannonErr = fmt.Errorf("go build ./cannon in %s: %v\n%s", cmd.Dir, err, b)
		}
	})
	if cannonErr != nil {
		if os.Getenv("PROOFD_REQUIRE_CANNON") != "" {
			t.Fatal(cannonErr)
		}
		t.Skipf("cannot build the cannon binary, so only Cannon's library is compared: %v", cannonErr)
	}
	return cannonPath
}

// cannon runs the cannon binary in dir and returns its stdout.
func cannon(t *testing.T, dir string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(cannonBinary(t), args...)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cannon %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
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

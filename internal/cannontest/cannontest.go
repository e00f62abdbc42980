package cannontest

import (
	"context"
	"errors"
	"io"

	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	preimage "github.com/ethereum-optimism/optimism/op-preimage"
)

var (
	once sync.Once
	dir  string
	path string
	err  error
)

// Binary builds cannon once per test process and returns its path; it
// skips the test when cannon cannot be built (see the package comment).
// Call Cleanup from TestMain.
func Binary(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: not building the cannon binary")
	}
	once.Do(build)
	if err != nil {
		if os.Getenv("PROOFD_REQUIRE_CANNON") != "" {
			t.Fatal(err)
		}
		t.Skipf("cannot build the cannon binary, so nothing is compared with it: %v", err)
	}
	return path
}

func build() {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	out, lerr := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", "github.com/ethereum-optimism/optimism").Output()
	if lerr != nil {
		err = fmt.Errorf("locate the optimism module: %w", lerr)
		return
	}
	if dir, err = os.MkdirTemp("", "proofd-cannon-"); err != nil {
		return
	}
	path = filepath.Join(dir, "cannon")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", path, "./cannon")
	cmd.Dir = strings.TrimSpace(string(out))
	// The optimism module's own go.mod governs its build (it needs op-geth).
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod -buildvcs=false", "GOWORK=off")
	if b, berr := cmd.CombinedOutput(); berr != nil {
		err = fmt.Errorf("go build ./cannon in %s: %v\n%s", cmd.Dir, berr, b)
	}
}

// Run runs cannon with args in dir and returns its stdout.
func Run(t testing.TB, dir string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(Binary(t), args...)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cannon %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// Cleanup removes the binary Binary built.
func Cleanup() {
	if dir != "" {
		os.RemoveAll(dir)
	}
}

// ServeKV is the server side of Cannon's host protocol over the file
// descriptors a preimage server is given: hints arrive on fd 3 and are acked
// on fd 4, keys arrive on fd 5 and answers from kv go out on fd 6, until the
// host closes them (which is not an error). A test binary re-executed as a
// preimage server calls it from TestMain.
func ServeKV(kv map[[32]byte][]byte) error {
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

// Package cannontest builds the real `cannon` binary, from the optimism
// module this module depends on, for tests that compare proofd with it.
//
// Without Go's module cache or network the build fails and the tests that
// need it are skipped, unless PROOFD_REQUIRE_CANNON is set, which makes a
// missing cannon a failure. Under -short nothing is built.
package cannontest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
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

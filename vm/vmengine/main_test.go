package vmengine_test

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/proofd/proofd/engine/enginetest"
	"github.com/proofd/proofd/internal/cannontest"
)

// serverModeEnv makes the test binary a preimage server (see serve).
const serverModeEnv = "PROOFD_VMENGINE_TEST_SERVER"

// startedEnv, when set, names a file a serving test binary appends a line
// to, so that tests can count the servers started.
const startedEnv = "PROOFD_VMENGINE_TEST_STARTED"

// TestMain runs the test binary as a preimage server when asked to, and
// otherwise fails the package if a test leaves goroutines or engine
// processes behind.
func TestMain(m *testing.M) {
	if os.Getenv(serverModeEnv) == "kv" {
		os.Exit(serve())
	}
	code := m.Run()
	cannontest.Cleanup()
	enginetest.Cleanup()
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

// serve is a preimage server for guestKV (cannontest.ServeKV), noting its
// pid in the file startedEnv names so tests can count the servers started.
func serve() int {
	if path := os.Getenv(startedEnv); path != "" {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err == nil {
			fmt.Fprintln(f, os.Getpid())
			f.Close()
		}
	}
	if err := cannontest.ServeKV(guestKV()); err != nil {
		fmt.Fprintln(os.Stderr, "test server:", err)
		return 1
	}
	return 0
}

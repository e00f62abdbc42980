package vmengine_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"testing"

	preimage "github.com/ethereum-optimism/optimism/op-preimage"
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

// serve is the server side of Cannon's host protocol, serving guestKV:
// hints arrive on fd 3 and are acked on fd 4, keys arrive on fd 5 and
// answers go out on fd 6, until the host closes them.
func serve() int {
	if path := os.Getenv(startedEnv); path != "" {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err == nil {
			fmt.Fprintln(f, os.Getpid())
			f.Close()
		}
	}
	kv := guestKV()
	hints := preimage.NewHintReader(preimage.NewReadWritePair(os.NewFile(3, "hint-read"), os.NewFile(4, "hint-write")))
	oracle := preimage.NewOracleServer(preimage.NewReadWritePair(os.NewFile(5, "preimage-read"), os.NewFile(6, "preimage-write")))
	errs := make(chan error, 2)
	go func() {
		for {
			if err := hints.NextHint(func(string) error { return nil }); err != nil {
				errs <- err
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
				errs <- err
				return
			}
		}
	}()
	for range 2 {
		if err := <-errs; !errors.Is(err, io.EOF) {
			fmt.Fprintln(os.Stderr, "test server:", err)
			return 1
		}
	}
	return 0
}

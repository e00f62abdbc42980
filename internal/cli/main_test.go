package cli_test

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/proofd/proofd/engine/enginetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
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

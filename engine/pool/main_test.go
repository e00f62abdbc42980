package pool_test

import (
	"testing"

	"github.com/proofd/proofd/engine/enginetest"
)

// TestMain fails the package if a test leaves goroutines or engine
// processes behind.
func TestMain(m *testing.M) { enginetest.Main(m) }

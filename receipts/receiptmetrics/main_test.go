package receiptmetrics_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves pebble's goroutines behind
// (a Store not closed).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

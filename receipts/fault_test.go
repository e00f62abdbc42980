package receipts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// TestOpenFailureIsReported injects a filesystem error into Open: the
// error names the directory and keeps the cause, and nothing is left
// running (goleak in TestMain).
func TestOpenFailureIsReported(t *testing.T) {
	var toggle errorfs.Toggle
	toggle.Injector = errorfs.ErrInjected
	toggle.On()
	_, err := Open("faulty", Options{FS: errorfs.Wrap(vfs.NewMem(), &toggle)})
	if !errors.Is(err, errorfs.ErrInjected) || !strings.Contains(err.Error(), "open faulty") {
		t.Errorf("Open on a failing filesystem: %v, want the injected error naming the directory", err)
	}
}

// panicLogger turns pebble's Fatalf into a panic the test can catch.
type panicLogger struct{ quietLogger }

func (panicLogger) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }

// TestFailedWALSyncNeverReportsSuccess: when the WAL fsync fails, pebble
// treats the commit pipeline as broken and calls Logger.Fatalf (by default
// the process exits), so Put can never return nil for a receipt that is
// not durable.
func TestFailedWALSyncNeverReportsSuccess(t *testing.T) {
	var toggle errorfs.Toggle
	toggle.Injector = errorfs.InjectorFunc(func(op errorfs.Op) error {
		if strings.HasSuffix(op.Path, ".log") && (op.Kind == errorfs.OpFileSync || op.Kind == errorfs.OpFileSyncData) {
			return errorfs.ErrInjected
		}
		return nil
	})
	s := openT(t, "db", Options{FS: errorfs.Wrap(vfs.NewMem(), &toggle), Logger: panicLogger{}})
	toggle.On()
	var putErr error
	fatal := func() (msg any) {
		defer func() { msg = recover() }()
		putErr = s.Put(context.Background(), Key{Kind: KindTx}, Receipt{Proof: []byte{1}})
		return nil
	}()
	if fatal == nil {
		t.Fatalf("Put with a failing WAL sync returned %v without a fatal commit error", putErr)
	}
	if msg := fmt.Sprint(fatal); !strings.Contains(msg, "fatal commit error") {
		t.Errorf("fatal message %q, want pebble's fatal commit error", msg)
	}
	toggle.Off()
	// The failed sync stays the database's error; Close reports it.
	if err := s.Close(); !errors.Is(err, errorfs.ErrInjected) {
		t.Errorf("Close after a failed WAL sync: %v, want the injected error", err)
	}
}

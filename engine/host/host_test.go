package host

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRemoveStaleSocket(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	if err := removeStaleSocket(path); err == nil || !strings.Contains(err.Error(), "listening") {
		t.Fatalf("live socket: got %v, want 'another process is listening'", err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close() // the file stays, nobody answers: stale
	if err := removeStaleSocket(path); err != nil {
		t.Fatalf("stale socket: %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("stale socket not removed")
	}
	os.WriteFile(path, []byte("x"), 0o600)
	if err := removeStaleSocket(path); err == nil {
		t.Fatal("removed a regular file")
	}
}

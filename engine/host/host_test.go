package host

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
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

func TestConfigValidateReportsEverything(t *testing.T) {
	cfg := Config{MaxMessageBytes: -1, ShutdownGrace: -time.Second, MaxResidentBytes: 1 << 20, MaxArtifactBytes: 2 << 20}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("an invalid config validated")
	}
	for _, want := range []string{"Kind", "Register", "MaxMessageBytes", "ShutdownGrace", "MaxArtifactBytes"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %q, does not mention %s", err, want)
		}
	}
	ok := Config{Kind: "x", Register: func(*grpc.Server, *Store) {}, MaxResidentBytes: 1000}
	ok.EnsureDefaults()
	if err := ok.Validate(); err != nil || ok.MaxArtifactBytes != 1000 {
		t.Fatalf("defaults under a 1000-byte budget: MaxArtifactBytes %d, Validate %v; want 1000 and nil", ok.MaxArtifactBytes, err)
	}
}

package host

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAnnouncementRoundTrip(t *testing.T) {
	a := Announcement{Version: ProtocolVersion, Network: "unix", Address: "/tmp/x/engine.sock"}
	got, err := ParseAnnouncement(a.String() + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if got != a {
		t.Fatalf("got %+v, want %+v", got, a)
	}
}

func TestParseAnnouncementRejects(t *testing.T) {
	for _, line := range []string{
		"", "hello world", "proofd-engine|x|unix|/s|grpc", "proofd-engine|1|tcp|/s|grpc",
		"proofd-engine|1|unix||grpc", "proofd-engine|1|unix|/s|netrpc", "proofd-engine|1|unix|/s",
	} {
		if _, err := ParseAnnouncement(line); err == nil {
			t.Errorf("ParseAnnouncement(%q) accepted", line)
		}
	}
}

func FuzzParseAnnouncement(f *testing.F) {
	f.Add("proofd-engine|1|unix|/tmp/a/engine.sock|grpc\n")
	f.Add("proofd-engine|99999999999|unix|/|grpc")
	f.Fuzz(func(t *testing.T, line string) {
		a, err := ParseAnnouncement(line)
		if err == nil && (a.Address == "" || a.Network != "unix") {
			t.Fatalf("accepted %q as %+v", line, a)
		}
	})
}

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

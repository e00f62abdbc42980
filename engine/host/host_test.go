package host

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/proofd/proofd/artifact"
)

func TestStoreEvictsLeastRecentlyUsed(t *testing.T) {
	s := NewStore(10)
	a, b, c := artifact.New([]byte("aaaa")), artifact.New([]byte("bbbb")), artifact.New([]byte("cccc"))
	s.Put(a.Digest, "x", a.Data)
	s.Put(b.Digest, "x", b.Data)
	s.Get(a.Digest) // a is now more recent than b
	s.Put(c.Digest, "x", c.Data)
	if !s.Has(a.Digest) || s.Has(b.Digest) || !s.Has(c.Digest) {
		t.Fatalf("after eviction: a=%v b=%v c=%v, want a and c", s.Has(a.Digest), s.Has(b.Digest), s.Has(c.Digest))
	}
	n, size := s.Stats()
	if n != 2 || size != 8 {
		t.Fatalf("stats = %d artifacts, %d bytes; want 2, 8", n, size)
	}
}

func TestStoreDecodesOnce(t *testing.T) {
	s := NewStore(1 << 20)
	a := artifact.New([]byte("key"))
	s.Put(a.Digest, "pk", a.Data)
	calls := 0
	for range 3 {
		v, missing, err := s.Decoded(a.Digest, "pk", func(b []byte) (any, error) { calls++; return string(b), nil })
		if missing || err != nil || v != "key" {
			t.Fatalf("Decoded = %v %v %v", v, missing, err)
		}
	}
	if calls != 1 {
		t.Fatalf("decoded %d times, want 1", calls)
	}
	if _, missing, _ := s.Decoded(artifact.Digest{9}, "pk", nil); !missing {
		t.Fatal("unknown digest not reported missing")
	}
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

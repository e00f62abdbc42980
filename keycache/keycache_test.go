package keycache

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/atomicfile/faultfs"
)

func keys(tag string) Keys {
	return Keys{PK: artifact.New([]byte("proving key " + tag)), VK: artifact.New([]byte("verifying key " + tag))}
}

func TestPutGetAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	id := ID{CCS: artifact.New([]byte("circuit")).Digest, Scheme: "groth16"}
	if _, ok, err := c.Get(id); ok || err != nil {
		t.Fatalf("empty cache: ok %v err %v, want a miss", ok, err)
	}
	want := keys("a")
	if err := c.Put(id, want); err != nil {
		t.Fatal(err)
	}
	c2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, ok, err := c2.Get(id)
	if err != nil || !ok || got.PK.Digest != want.PK.Digest || got.VK.Digest != want.VK.Digest {
		t.Fatalf("after reopen: %v %v %v, want the keys put", got, ok, err)
	}
	// Another scheme, SRS or circuit is another setup: a miss.
	for _, other := range []ID{
		{CCS: id.CCS, Scheme: "plonk"},
		{CCS: id.CCS, Scheme: "groth16", SRS: artifact.Digest{1}},
		{CCS: artifact.Digest{2}, Scheme: "groth16"},
	} {
		if _, ok, err := c2.Get(other); ok || err != nil {
			t.Errorf("Get(%+v): ok %v err %v, want a miss", other, ok, err)
		}
	}
	fi, err := os.Stat(filepath.Join(dir, id.name()))
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("entry directory: %v %v, want mode 0700", fi.Mode().Perm(), err)
	}
	for _, f := range []string{"pk.bin", "vk.bin", "keys.json"} {
		if fi, err := os.Stat(filepath.Join(dir, id.name(), f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, want mode 0600", f, err)
		}
	}
}

func TestCorruptEntriesAreNamedNotServed(t *testing.T) {
	id := ID{CCS: artifact.Digest{7}, Scheme: "groth16"}
	for _, tc := range []struct {
		name, file string
		damage     func(t *testing.T, c *Cache, path string)
	}{
		{"flipped pk byte", "pk.bin", func(t *testing.T, _ *Cache, path string) {
			b, _ := os.ReadFile(path)
			b[0] ^= 1
			os.WriteFile(path, b, 0o600)
		}},
		{"truncated vk", "vk.bin", func(t *testing.T, _ *Cache, path string) { os.Truncate(path, 3) }},
		{"garbage manifest", "keys.json", func(t *testing.T, _ *Cache, path string) { os.WriteFile(path, []byte("{not json"), 0o600) }},
		{"manifest of another setup", "keys.json", func(t *testing.T, c *Cache, path string) {
			other := ID{CCS: artifact.Digest{8}, Scheme: "groth16"}
			if err := c.Put(other, keys("other")); err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(filepath.Join(c.dir, other.name(), "keys.json"))
			os.WriteFile(path, b, 0o600)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Put(id, keys("a")); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(c.dir, id.name(), tc.file)
			tc.damage(t, c, path)
			_, ok, err := c.Get(id)
			if ok || !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
				t.Fatalf("ok %v err %v, want ErrCorrupt naming %s", ok, err, path)
			}
		})
	}
}

// TestInterruptedPutIsAMiss: whichever step of a Put over an older pair
// fails, the entry is a miss, never a new key beside an old one.
func TestInterruptedPutIsAMiss(t *testing.T) {
	id := ID{CCS: artifact.Digest{3}, Scheme: "plonk", SRS: artifact.Digest{4}}
	for _, fault := range []struct {
		op  string
		nth int
	}{{"write", 2}, {"sync", 3}, {"rename", 1}, {"rename", 2}, {"rename", 3}} {
		t.Run(fault.op, func(t *testing.T) {
			c, err := Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Put(id, keys("old")); err != nil {
				t.Fatal(err)
			}
			c.fs = &faultfs.FS{Op: fault.op, Nth: fault.nth}
			if err := c.Put(id, keys("new")); !errors.Is(err, faultfs.ErrInjected) {
				t.Fatalf("Put: %v, want the injected fault", err)
			}
			// Put withdrew the old pair before writing: a clean miss, so the
			// caller sets up again; never an old manifest over new bytes.
			got, ok, err := c.Get(id)
			if ok || err != nil {
				t.Fatalf("after a failed %s #%d: ok %v err %v (%v), want a clean miss", fault.op, fault.nth, ok, err, got)
			}
		})
	}
}

package atomicfile_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/proofd/proofd/atomicfile"
	"github.com/proofd/proofd/atomicfile/faultfs"
)

// halves writes s in two writes, so that a write fault cuts it short; as
// WriteFS asks of a fill, its errors name the target.
func halves(path, s string) func(atomicfile.File) error {
	return func(f atomicfile.File) error {
		for _, half := range []string{s[:len(s)/2], s[len(s)/2:]} {
			if _, err := f.Write([]byte(half)); err != nil {
				return fmt.Errorf("write %s: %w", path, err)
			}
		}
		return nil
	}
}

// TestGroupFaults injects a fault at each step of writing a group of two
// files in two directories, at the first and at the second file, and
// checks what each target holds afterwards and that no temp file is left.
func TestGroupFaults(t *testing.T) {
	type outcome int
	const (
		bothOld outcome = iota
		firstNew
		bothNew
	)
	tests := []struct {
		op   string
		nth  int
		want outcome
		says string // in the error besides the failing file's path
	}{
		{"create", 1, bothOld, "create"},
		{"create", 2, bothOld, "create"},
		{"write", 1, bothOld, "write"},
		{"write", 2, bothOld, "write"},
		{"chmod", 1, bothOld, "chmod"},
		{"chmod", 2, bothOld, "chmod"},
		{"sync", 1, bothOld, "fsync"},
		{"sync", 2, bothOld, "fsync"},
		{"close", 1, bothOld, "close"},
		{"close", 2, bothOld, "close"},
		{"rename", 1, bothOld, "rename"},
		{"rename", 2, firstNew, "inconsistent"},
		{"syncdir", 1, bothNew, "fsync of directory"},
		{"syncdir", 2, bothNew, "fsync of directory"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s#%d", tt.op, tt.nth), func(t *testing.T) {
			root := t.TempDir()
			sub := filepath.Join(root, "sub")
			if err := os.Mkdir(sub, 0o755); err != nil {
				t.Fatal(err)
			}
			a, b := filepath.Join(root, "a.key"), filepath.Join(sub, "b.key")
			for _, p := range []string{a, b} {
				if err := os.WriteFile(p, []byte("old content of "+filepath.Base(p)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			fsys := &faultfs.FS{Op: tt.op, Nth: tt.nth, WriteAfter: 10} // the first half of each file goes through
			err := atomicfile.WriteGroup(fsys,
				atomicfile.Entry{Path: a, Perm: 0o600, Fill: halves(a, "new content of a.key")},
				atomicfile.Entry{Path: b, Perm: 0o600, Fill: halves(b, "new content of b.key")})
			if fsys.Hits == 0 {
				t.Fatal("fault never triggered")
			}
			failing := []string{a, b}[tt.nth-1]
			if !errors.Is(err, faultfs.ErrInjected) || !strings.Contains(err.Error(), failing) || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("error %v, want the injected fault naming %s and saying %q", err, failing, tt.says)
			}
			wantA, wantB := "old", "old"
			switch tt.want {
			case firstNew:
				wantA = "new"
			case bothNew:
				wantA, wantB = "new", "new"
			}
			for _, f := range []struct{ path, want string }{{a, wantA}, {b, wantB}} {
				if got, want := readFile(t, f.path), f.want+" content of "+filepath.Base(f.path); got != want {
					t.Errorf("%s holds %q, want %q", f.path, got, want)
				}
			}
			for _, dir := range []string{root, sub} {
				ents, _ := os.ReadDir(dir)
				for _, e := range ents {
					if strings.Contains(e.Name(), ".tmp-") {
						t.Errorf("temp file %s left in %s", e.Name(), dir)
					}
				}
			}
		})
	}
}

func TestFillErrorLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "new.json")
	boom := errors.New("encoder failed")
	err := atomicfile.WriteFS(atomicfile.OSFS{}, path, 0o644, func(f atomicfile.File) error {
		io.WriteString(f, "{\"partial\":")
		return boom
	})
	if err != boom {
		t.Errorf("error %v, want fill's error as it is", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
}

func TestWriteReplacesWithMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vk")
	for _, content := range []string{"first", "second, longer than the first"} {
		if err := atomicfile.Write(path, []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
		if got := readFile(t, path); got != content {
			t.Errorf("got %q, want %q", got, content)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fi.Mode().Perm(), os.FileMode(0o640); got != want {
		t.Errorf("mode %v, want %v", got, want)
	}
}

func TestWriteFuncNamesThePath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out")
	err := atomicfile.WriteFunc(path, 0o644, func(io.Writer) error { return faultfs.ErrInjected })
	if !errors.Is(err, faultfs.ErrInjected) || !strings.Contains(err.Error(), path) {
		t.Errorf("error %v, want the fill error naming %s", err, path)
	}
}

func TestGroupRejectsAPathTwice(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x")
	err := atomicfile.WriteGroup(atomicfile.OSFS{},
		atomicfile.Entry{Path: p, Perm: 0o644, Fill: atomicfile.Data([]byte("1"))},
		atomicfile.Entry{Path: filepath.Join(dir, ".", "x"), Perm: 0o644, Fill: atomicfile.Data([]byte("2"))})
	if err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("error %v, want a path named twice", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

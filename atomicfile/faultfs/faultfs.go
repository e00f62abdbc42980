package faultfs

import (
	"errors"
	"fmt"
	"os"

	"github.com/proofd/proofd/atomicfile"
)

// ErrInjected is what every injected failure wraps.
var ErrInjected = errors.New("injected fault")

// FS fails the operation named Op: "create", "write", "writeat", "chmod",
// "sync", "close", "rename" or "syncdir".
type FS struct {
	atomicfile.OSFS
	// Op is the operation that fails.
	Op string
	// Nth, when positive, fails only the Nth call of Op (1-based, counted
	// across every file); zero fails every call.
	Nth int
	// WriteAfter lets a file's writes through while it holds at most this
	// many bytes: the write that would take it past them is the one that
	// can fail, so a write fault cuts the file short instead of leaving it
	// empty.
	WriteAfter int64

	calls int
	// Hits counts the failures injected.
	Hits int
}

func (f *FS) fail(op string) error {
	if op != f.Op {
		return nil
	}
	f.calls++
	if f.Nth > 0 && f.calls != f.Nth {
		return nil
	}
	f.Hits++
	return fmt.Errorf("%s: %w", op, ErrInjected)
}

// CreateTemp creates a temp file whose operations can fail.
func (f *FS) CreateTemp(dir, pattern string) (atomicfile.File, error) {
	if err := f.fail("create"); err != nil {
		return nil, err
	}
	file, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: file, fs: f}, nil
}

// Rename renames, unless "rename" fails.
func (f *FS) Rename(oldpath, newpath string) error {
	if err := f.fail("rename"); err != nil {
		return err
	}
	return os.Rename(oldpath, newpath)
}

// SyncDir syncs dir, unless "syncdir" fails.
func (f *FS) SyncDir(dir string) error {
	if err := f.fail("syncdir"); err != nil {
		return err
	}
	return f.OSFS.SyncDir(dir)
}

type faultFile struct {
	*os.File
	fs      *FS
	written int64
}

func (f *faultFile) Write(b []byte) (int, error) {
	if f.written+int64(len(b)) > f.fs.WriteAfter {
		if err := f.fs.fail("write"); err != nil {
			return 0, err
		}
	}
	n, err := f.File.Write(b)
	f.written += int64(n)
	return n, err
}

func (f *faultFile) WriteAt(b []byte, off int64) (int, error) {
	if err := f.fs.fail("writeat"); err != nil {
		return 0, err
	}
	return f.File.WriteAt(b, off)
}

func (f *faultFile) Chmod(m os.FileMode) error {
	if err := f.fs.fail("chmod"); err != nil {
		return err
	}
	return f.File.Chmod(m)
}

func (f *faultFile) Sync() error {
	if err := f.fs.fail("sync"); err != nil {
		return err
	}
	return f.File.Sync()
}

func (f *faultFile) Close() error {
	err := f.File.Close()
	if ferr := f.fs.fail("close"); ferr != nil {
		return ferr
	}
	return err
}

package atomicfile

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// FS is the part of a filesystem an atomic write needs. OSFS is the
// operating system's; tests pass one that fails on demand.
type FS interface {
	// CreateTemp creates a new file in dir, as os.CreateTemp does.
	CreateTemp(dir, pattern string) (File, error)
	// Rename atomically replaces newpath with oldpath.
	Rename(oldpath, newpath string) error
	// Remove deletes a file; it only cleans up after a failure.
	Remove(name string) error
	// SyncDir makes dir's entries (a rename into it) durable.
	SyncDir(dir string) error
}

// File is a temp file being written. *os.File implements it; WriterAt lets
// a writer fill in a header once the rest is known.
type File interface {
	io.Writer
	io.WriterAt
	Name() string
	Chmod(mode os.FileMode) error
	Sync() error
	Close() error
}

// OSFS is the operating system's filesystem.
type OSFS struct{}

func (OSFS) CreateTemp(dir, pattern string) (File, error) { return os.CreateTemp(dir, pattern) }
func (OSFS) Rename(oldpath, newpath string) error         { return os.Rename(oldpath, newpath) }
func (OSFS) Remove(name string) error                     { return os.Remove(name) }

func (OSFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Write replaces path with data.
func Write(path string, data []byte, perm os.FileMode) error {
	return WriteFunc(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteFunc replaces path with what fill writes, streamed to the temp
// file. An error from fill is returned wrapped with path.
func WriteFunc(path string, perm os.FileMode, fill func(io.Writer) error) error {
	return WriteFS(OSFS{}, path, perm, func(f File) error {
		if err := fill(f); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		return nil
	})
}

// WriteFS replaces path on fsys with what fill writes. An error from fill
// is returned as it is, so fill should name what it was writing.
func WriteFS(fsys FS, path string, perm os.FileMode, fill func(File) error) error {
	return WriteGroup(fsys, Entry{Path: path, Perm: perm, Fill: fill})
}

// Entry is one file of a group.
type Entry struct {
	Path string
	Perm os.FileMode
	// Fill writes the file's content; its error is returned as it is.
	Fill func(File) error
}

// Data is a Fill that writes b.
func Data(b []byte) func(File) error {
	return func(f File) error {
		_, err := f.Write(b)
		return err
	}
}

// WriteGroup replaces every entry's file: it stages all of them (written
// and fsynced as temp files), then renames each over its target, then
// fsyncs each target directory. A failure while staging changes no target;
// see the package documentation for what a failure or crash while
// publishing leaves.
func WriteGroup(fsys FS, entries ...Entry) (err error) {
	seen := make(map[string]bool, len(entries))
	for _, e := range entries {
		p := filepath.Clean(e.Path)
		if seen[p] {
			return fmt.Errorf("write %s: named twice in one group", e.Path)
		}
		seen[p] = true
	}
	temps := make([]string, 0, len(entries))
	published := 0
	defer func() {
		if err != nil {
			for _, tmp := range temps[published:] {
				fsys.Remove(tmp)
			}
		}
	}()
	for _, e := range entries {
		tmp, err := stage(fsys, e)
		if err != nil {
			return err
		}
		temps = append(temps, tmp)
	}
	for k, e := range entries {
		if err := fsys.Rename(temps[k], e.Path); err != nil {
			return publishErr(entries, k, err)
		}
		published++
	}
	synced := make(map[string]bool, 1)
	for _, e := range entries {
		dir := filepath.Dir(e.Path)
		if synced[dir] {
			continue
		}
		synced[dir] = true
		if err := fsys.SyncDir(dir); err != nil {
			return fmt.Errorf("write %s: in place, but fsync of directory %s failed, so the rename may not survive a crash: %w", e.Path, dir, err)
		}
	}
	return nil
}

// stage writes e to a durable temp file next to its target and returns the
// temp's name; on failure it removes the temp itself.
func stage(fsys FS, e Entry) (tmp string, err error) {
	f, err := fsys.CreateTemp(filepath.Dir(e.Path), "."+filepath.Base(e.Path)+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("write %s: %w", e.Path, err)
	}
	open := true
	defer func() {
		if err == nil {
			return
		}
		if open {
			f.Close()
		}
		fsys.Remove(f.Name())
	}()
	if err = e.Fill(f); err != nil {
		return "", err
	}
	if err = f.Chmod(e.Perm); err != nil {
		return "", fmt.Errorf("write %s: %w", e.Path, err)
	}
	if err = f.Sync(); err != nil {
		return "", fmt.Errorf("write %s: fsync: %w", e.Path, err)
	}
	open = false
	if err = f.Close(); err != nil {
		return "", fmt.Errorf("write %s: %w", e.Path, err)
	}
	return f.Name(), nil
}

// publishErr reports a failed rename of entries[k], and which files of the
// group it had already replaced.
func publishErr(entries []Entry, k int, err error) error {
	if k == 0 {
		return fmt.Errorf("write %s: %w", entries[k].Path, err)
	}
	done := make([]string, k)
	for i := range k {
		done[i] = entries[i].Path
	}
	return fmt.Errorf("write %s: the group is inconsistent: %q already replaced, the rest keep their old content: %w", entries[k].Path, done, err)
}

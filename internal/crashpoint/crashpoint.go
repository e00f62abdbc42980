package crashpoint

import (
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Env names the variable FS reads.
const Env = "PROOFD_CRASH_AT_SYNC"

// FS returns fs, wrapped to crash as Env says.
func FS(fs vfs.FS) vfs.FS {
	n, err := strconv.ParseInt(os.Getenv(Env), 10, 64)
	if err != nil || n < 1 {
		return fs
	}
	return &crashFS{FS: fs, at: n}
}

type crashFS struct {
	vfs.FS
	at    int64
	syncs atomic.Int64
}

func (c *crashFS) wrap(name string, f vfs.File, err error) (vfs.File, error) {
	if err != nil || !strings.HasSuffix(name, ".log") {
		return f, err
	}
	return &crashFile{File: f, fs: c}, nil
}

func (c *crashFS) Create(name string, cat vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := c.FS.Create(name, cat)
	return c.wrap(name, f, err)
}

func (c *crashFS) ReuseForWrite(oldname, newname string, cat vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := c.FS.ReuseForWrite(oldname, newname, cat)
	return c.wrap(newname, f, err)
}

func (c *crashFS) crash() {
	if c.syncs.Add(1) == c.at {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}

type crashFile struct {
	vfs.File
	fs *crashFS
}

func (f *crashFile) Sync() error {
	f.fs.crash()
	return f.File.Sync()
}

func (f *crashFile) SyncData() error {
	f.fs.crash()
	return f.File.SyncData()
}

func (f *crashFile) SyncTo(length int64) (bool, error) {
	f.fs.crash()
	return f.File.SyncTo(length)
}

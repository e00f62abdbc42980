package receipts

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// syncCountingFS counts syncs of WAL files (*.log), each after an optional
// delay that stands in for a disk's fsync latency.
type syncCountingFS struct {
	vfs.FS
	delay time.Duration
	syncs atomic.Int64
}

func (fs *syncCountingFS) wrap(name string, f vfs.File, err error) (vfs.File, error) {
	if err != nil || !strings.HasSuffix(name, ".log") {
		return f, err
	}
	return &syncCountingFile{File: f, fs: fs}, nil
}

func (fs *syncCountingFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, c)
	return fs.wrap(name, f, err)
}

func (fs *syncCountingFS) ReuseForWrite(oldname, newname string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, c)
	return fs.wrap(newname, f, err)
}

func (fs *syncCountingFS) OpenReadWrite(name string, c vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := fs.FS.OpenReadWrite(name, c, opts...)
	return fs.wrap(name, f, err)
}

type syncCountingFile struct {
	vfs.File
	fs *syncCountingFS
}

func (f *syncCountingFile) count() {
	f.fs.syncs.Add(1)
	time.Sleep(f.fs.delay)
}

func (f *syncCountingFile) Sync() error     { f.count(); return f.File.Sync() }
func (f *syncCountingFile) SyncData() error { f.count(); return f.File.SyncData() }
func (f *syncCountingFile) SyncTo(length int64) (bool, error) {
	f.count()
	return f.File.SyncTo(length)
}

// putAll writes n receipts from writers goroutines and returns the WAL
// syncs it took.
func putAll(t testing.TB, s *Store, fs *syncCountingFS, base uint64, n, writers int) int64 {
	before := fs.syncs.Load()
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	start := make(chan struct{})
	for w := range writers {
		wg.Go(func() {
			<-start
			for i := w; i < n; i += writers {
				k := Key{Checkpoint: base + uint64(i), Kind: KindTx}
				if err := s.Put(context.Background(), k, Receipt{Proof: make([]byte, 256)}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return fs.syncs.Load() - before
}

// TestConcurrentPutsShareFsyncs measures that pebble's commit pipeline
// groups concurrent Sync writes: n serial Puts cost n WAL syncs, n Puts from
// n goroutines cost far fewer. The 1 ms delay per sync is a disk's latency;
// without grouping, the concurrent run would still take n syncs.
func TestConcurrentPutsShareFsyncs(t *testing.T) {
	fs := &syncCountingFS{FS: vfs.NewMem(), delay: time.Millisecond}
	s := openT(t, "db", Options{FS: fs})
	const n = 64
	serial := putAll(t, s, fs, 0, n, 1)
	concurrent := putAll(t, s, fs, n, n, n)
	t.Logf("%d Puts: %d WAL syncs from 1 writer, %d from %d writers", n, serial, concurrent, n)
	if serial < n {
		t.Errorf("%d serial Puts took %d WAL syncs; each must be durable before it returns", n, serial)
	}
	if concurrent > n/4 {
		t.Errorf("%d concurrent Puts took %d WAL syncs, want at most %d (shared fsyncs)", n, concurrent, n/4)
	}
}

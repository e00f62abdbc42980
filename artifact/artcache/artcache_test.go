package artcache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/proofd/proofd/artifact"
)

// TestMain fails the package if a test leaves a load's goroutine behind.
func TestMain(m *testing.M) {
	code := m.Run()
	if err := goleak.Find(); err != nil {
		fmt.Fprintln(os.Stderr, "goleak:", err)
		code = 1
	}
	os.Exit(code)
}

// source is a test Source: it counts fetches, and can return wrong bytes,
// fail, or block until its gate is closed (or the fetch's ctx is done).
type source struct {
	mu        sync.Mutex
	blobs     map[artifact.Digest][]byte
	fetches   int
	cancelled int // fetches that ended because their ctx was done
	wrong     bool
	err       error
	gate      chan struct{}
	deaf      bool // waits for the gate before it sees that ctx is done, as a slow store might
}

func newSource(arts ...artifact.Artifact) *source {
	s := &source{blobs: map[artifact.Digest][]byte{}}
	for _, a := range arts {
		s.blobs[a.Digest] = a.Data
	}
	return s
}

func (s *source) Fetch(ctx context.Context, d artifact.Digest) ([]byte, error) {
	s.mu.Lock()
	s.fetches++
	data, ok := s.blobs[d]
	gate, deaf, wrong, err := s.gate, s.deaf, s.wrong, s.err
	s.mu.Unlock()
	if gate != nil {
		if deaf {
			<-gate
		} else {
			select {
			case <-gate:
			case <-ctx.Done():
			}
		}
		if err := ctx.Err(); err != nil {
			s.mu.Lock()
			s.cancelled++
			s.mu.Unlock()
			return nil, err
		}
	}
	switch {
	case err != nil:
		return nil, err
	case !ok:
		return nil, fmt.Errorf("no artifact %s", d.Short())
	case wrong:
		return append(slices.Clone(data), 'x'), nil
	}
	return data, nil
}

func (s *source) count() (fetches, cancelled int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetches, s.cancelled
}

// blob is an artifact of n bytes, distinct for each seed.
func blob(n int, seed byte) artifact.Artifact {
	data := make([]byte, n)
	for i := range data {
		data[i] = seed + byte(i*7)
	}
	return artifact.New(data)
}

func open(t *testing.T, opts Options) *Cache {
	t.Helper()
	c, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func get(t *testing.T, c *Cache, want artifact.Artifact, src Source) {
	t.Helper()
	got, err := c.Get(context.Background(), want.Digest, src)
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest != want.Digest || !bytes.Equal(got.Data, want.Data) {
		t.Fatalf("Get %s returned %d bytes with digest %s, want %d bytes", want.Digest.Short(), len(got.Data), got.Digest.Short(), len(want.Data))
	}
}

// getInBackground is get for a goroutine other than the test's.
func getInBackground(t *testing.T, wg *sync.WaitGroup, c *Cache, want artifact.Artifact, src Source) {
	wg.Go(func() {
		got, err := c.Get(context.Background(), want.Digest, src)
		if err != nil || !bytes.Equal(got.Data, want.Data) {
			t.Errorf("Get %s: %d bytes, %v; want the artifact", want.Digest.Short(), len(got.Data), err)
		}
	})
}

// names lists dir's entries.
func names(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// eventually fails the test if cond does not hold within a few seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

// events records the hooks' calls, in order, naming digests by names, or
// by their short hex.
type events struct {
	mu    sync.Mutex
	list  []string
	names map[artifact.Digest]string
}

func (e *events) name(d artifact.Digest) string {
	if n, ok := e.names[d]; ok {
		return n
	}
	return d.Short()
}

func (e *events) add(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.list = append(e.list, fmt.Sprintf(format, args...))
}

func (e *events) take() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := e.list
	e.list = nil
	return out
}

func (e *events) hooks() Hooks {
	return Hooks{
		Evicted: func(d artifact.Digest, n int64, where string) { e.add("evict %s %d %s", e.name(d), n, where) },
		Corrupt: func(d artifact.Digest, path string, err error) {
			e.add("corrupt %s %s", e.name(d), filepath.Base(path))
		},
		DiskError: func(path string, err error) { e.add("disk error %s: %v", path, err) },
	}
}

func TestNeverFetchesWhatItHolds(t *testing.T) {
	dir := t.TempDir()
	a, b := blob(100, 1), blob(200, 2)
	src := newSource(a, b)
	c := open(t, Options{Dir: dir})
	for range 3 {
		get(t, c, a, src)
		get(t, c, b, src)
	}
	if n, _ := src.count(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}
	if got, want := c.Stats(), (Stats{MemBytes: 300, DiskBytes: 300, MemItems: 2, DiskItems: 2, Fetches: 2, MemHits: 4}); got != want {
		t.Fatalf("stats %+v, want %+v", got, want)
	}

	// A new cache on the same directory reads what the old one wrote.
	c = open(t, Options{Dir: dir})
	empty := newSource()
	for range 2 {
		get(t, c, a, empty)
		get(t, c, b, empty)
	}
	if got, want := c.Stats(), (Stats{MemBytes: 300, DiskBytes: 300, MemItems: 2, DiskItems: 2, DiskHits: 2, MemHits: 2}); got != want {
		t.Fatalf("after reopening: stats %+v, want %+v", got, want)
	}
	if n, _ := empty.count(); n != 0 {
		t.Fatalf("after reopening: %d fetches, want 0", n)
	}
}

func TestFetchFailsKeepsNothing(t *testing.T) {
	a := blob(100, 1)
	boom := errors.New("object store down")
	for _, tc := range []struct {
		name  string
		set   func(*source)
		is    error
		names string // the digest as the error must name it
	}{
		{"wrong bytes", func(s *source) { s.wrong = true }, ErrDigestMismatch, a.Digest.String()},
		{"source error", func(s *source) { s.err = boom }, boom, a.Digest.Short()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			c := open(t, Options{Dir: dir})
			src := newSource(a)
			tc.set(src)
			_, err := c.Get(context.Background(), a.Digest, src)
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.names) {
				t.Fatalf("Get: %v, want %v naming %s", err, tc.is, tc.names)
			}
			if c.Holds(a.Digest) {
				t.Fatal("the cache holds what it failed to fetch")
			}
			if got, want := c.Stats(), (Stats{Fetches: 1}); got != want {
				t.Fatalf("stats %+v, want %+v", got, want)
			}
			if got := names(t, dir); len(got) != 0 {
				t.Fatalf("the directory holds %q, want nothing", got)
			}
		})
	}
}

func TestCorruptFileIsRemovedAndFetchedAgain(t *testing.T) {
	a := blob(100, 1)
	for _, tc := range []struct {
		name    string
		corrupt func([]byte) []byte
	}{
		{"flipped byte", func(b []byte) []byte { b[40] ^= 1; return b }},
		{"truncated", func(b []byte) []byte { return b[:50] }},
		{"appended", func(b []byte) []byte { return append(b, 0) }},
		{"empty", func(b []byte) []byte { return nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			src := newSource(a)
			get(t, open(t, Options{Dir: dir}), a, src)
			path := filepath.Join(dir, a.Digest.String())
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, tc.corrupt(data), 0o600); err != nil {
				t.Fatal(err)
			}

			var ev events
			c := open(t, Options{Dir: dir, Hooks: ev.hooks()})
			get(t, c, a, src)
			if got, want := ev.take(), []string{"corrupt " + a.Digest.Short() + " " + a.Digest.String()}; !reflect.DeepEqual(got, want) {
				t.Fatalf("hooks %q, want %q", got, want)
			}
			if n, _ := src.count(); n != 2 {
				t.Fatalf("%d fetches, want 2 (the first cache's and the refetch)", n)
			}
			if s := c.Stats(); s.Corrupt != 1 || s.DiskItems != 1 || s.DiskBytes != 100 {
				t.Fatalf("stats %+v, want 1 corrupt file and the refetched one on disk", s)
			}
			if data, err := os.ReadFile(path); err != nil || !bytes.Equal(data, a.Data) {
				t.Fatalf("after the refetch, %s holds %d bytes (%v), want the artifact", path, len(data), err)
			}
		})
	}
}

// TestBudgetsEvictLeastRecentlyUsed: artifacts of 100 bytes, memory for
// two, disk for three. After each Get, both tiers' orders (least recently
// used first) are checked, the disk's in the cache and in the files' mtimes.
func TestBudgetsEvictLeastRecentlyUsed(t *testing.T) {
	dir := t.TempDir()
	ev := events{names: map[artifact.Digest]string{}}
	arts := map[string]artifact.Artifact{}
	src := newSource()
	for i, name := range []string{"a", "b", "c", "d"} {
		x := blob(100, byte(i))
		arts[name], ev.names[x.Digest], src.blobs[x.Digest] = x, name, x.Data
	}
	order := func(ds []artifact.Digest) string {
		var out []string
		for _, d := range ds {
			out = append(out, ev.names[d])
		}
		return strings.Join(out, " ")
	}
	opts := Options{Dir: dir, MemBytes: 200, DiskBytes: 300, Hooks: ev.hooks()}
	c := open(t, opts)
	for _, step := range []struct {
		get       string
		events    []string
		mem, disk string
	}{
		{"a", nil, "a", "a"},
		{"b", nil, "a b", "a b"},
		{"c", []string{"evict a 100 memory"}, "b c", "a b c"},
		{"a", []string{"evict b 100 memory"}, "c a", "b c a"}, // from disk
		{"d", []string{"evict b 100 disk", "evict c 100 memory"}, "a d", "c a d"},
		{"a", nil, "d a", "c d a"}, // a memory hit is a use on disk too
	} {
		get(t, c, arts[step.get], src)
		if got := ev.take(); !reflect.DeepEqual(got, step.events) {
			t.Fatalf("Get %s: hooks %q, want %q", step.get, got, step.events)
		}
		c.mu.Lock()
		mem, disk := order(digests(c.mem.oldestFirst())), order(digests(c.disk.oldestFirst()))
		c.mu.Unlock()
		files, err := scan(dir)
		if err != nil {
			t.Fatal(err)
		}
		var byMtime []artifact.Digest
		for _, f := range files {
			byMtime = append(byMtime, f.d)
		}
		if mem != step.mem || disk != step.disk || order(byMtime) != step.disk {
			t.Fatalf("Get %s: memory %q, disk %q, files by mtime %q; want %q, %q, %q", step.get, mem, disk, order(byMtime), step.mem, step.disk, step.disk)
		}
		for name, x := range arts {
			if got, want := c.Holds(x.Digest), strings.Contains(step.mem+" "+step.disk, name); got != want {
				t.Fatalf("Get %s: Holds(%s) = %v, want %v", step.get, name, got, want)
			}
		}
		if s := c.Stats(); s.MemBytes > opts.MemBytes || s.DiskBytes > opts.DiskBytes {
			t.Fatalf("Get %s: stats %+v, over budget", step.get, s)
		}
	}

	// The order survives a restart: a smaller budget keeps the newest.
	opts.DiskBytes = 100
	c = open(t, opts)
	if got, want := ev.take(), []string{"evict c 100 disk", "evict d 100 disk"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("reopening: hooks %q, want %q", got, want)
	}
	if got, want := names(t, dir), []string{arts["a"].Digest.String()}; !reflect.DeepEqual(got, want) {
		t.Fatalf("reopening: files %q, want %q", got, want)
	}
}

func digests(es []entry) []artifact.Digest {
	var out []artifact.Digest
	for _, e := range es {
		out = append(out, e.d)
	}
	return out
}

func TestLargerThanBudget(t *testing.T) {
	for _, tc := range []struct {
		size      int
		mem, disk int
	}{
		{200, 1, 1},
		{250, 0, 1},
		{400, 0, 0},
	} {
		t.Run(fmt.Sprint(tc.size), func(t *testing.T) {
			c := open(t, Options{Dir: t.TempDir(), MemBytes: 200, DiskBytes: 300})
			x := blob(tc.size, 1)
			src := newSource(x)
			get(t, c, x, src)
			get(t, c, x, src)
			s := c.Stats()
			if s.MemItems != tc.mem || s.DiskItems != tc.disk {
				t.Fatalf("stats %+v, want %d in memory and %d on disk", s, tc.mem, tc.disk)
			}
			wantFetches := 1
			if tc.disk == 0 {
				wantFetches = 2
			}
			if n, _ := src.count(); n != wantFetches {
				t.Fatalf("%d fetches, want %d", n, wantFetches)
			}
		})
	}
}

func TestSingleFlight(t *testing.T) {
	a := blob(100, 1)
	src := newSource(a)
	src.gate = make(chan struct{})
	c := open(t, Options{Dir: t.TempDir()})

	var wg sync.WaitGroup
	for range 8 {
		getInBackground(t, &wg, c, a, src)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancelled := make(chan error)
	go func() {
		_, err := c.Get(ctx, a.Digest, src)
		cancelled <- err
	}()
	eventually(t, "9 Gets wait for one load", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		f := c.flights[a.Digest]
		return f != nil && f.waiters == 9
	})

	cancel()
	if err := <-cancelled; !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), a.Digest.Short()) {
		t.Fatalf("cancelled Get: %v, want context.Canceled naming %s", err, a.Digest.Short())
	}
	close(src.gate) // only now, so the load outlived the cancelled waiter
	wg.Wait()
	if fetches, cancelled := src.count(); fetches != 1 || cancelled != 0 {
		t.Fatalf("%d fetches (%d cancelled), want 1 (0 cancelled)", fetches, cancelled)
	}
}

func TestLoadWithoutWaitersIsCancelled(t *testing.T) {
	a := blob(100, 1)
	src := newSource(a)
	src.gate = make(chan struct{})
	c := open(t, Options{Dir: t.TempDir()})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := c.Get(ctx, a.Digest, src)
		done <- err
	}()
	eventually(t, "the fetch starts", func() bool { n, _ := src.count(); return n == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Get: %v, want context.Canceled", err)
	}
	eventually(t, "the fetch is cancelled", func() bool { _, n := src.count(); return n == 1 })

	src.mu.Lock()
	src.gate = nil
	src.mu.Unlock()
	get(t, c, a, src)
	if n, _ := src.count(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}
}

// TestGetWaitsOutAnAbandonedLoad: a Get that finds a cancelled load still
// running waits for it to end, rather than share its cancellation or load
// the same file a second time at once; then it loads afresh.
func TestGetWaitsOutAnAbandonedLoad(t *testing.T) {
	a := blob(100, 1)
	src := newSource(a)
	src.gate, src.deaf = make(chan struct{}), true
	c := open(t, Options{Dir: t.TempDir()})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := c.Get(ctx, a.Digest, src)
		done <- err
	}()
	eventually(t, "the fetch starts", func() bool { n, _ := src.count(); return n == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Get: %v, want context.Canceled", err)
	}

	var wg sync.WaitGroup
	getInBackground(t, &wg, c, a, src)
	time.Sleep(20 * time.Millisecond) // time enough to start a second load, if Get did
	if n, _ := src.count(); n != 1 {
		t.Fatalf("%d fetches while the abandoned one runs, want 1", n)
	}
	close(src.gate)
	wg.Wait()
	if fetches, cancelled := src.count(); fetches != 2 || cancelled != 1 {
		t.Fatalf("%d fetches (%d cancelled), want 2 (1 cancelled)", fetches, cancelled)
	}
}

func TestOpenRemovesStaleTempsOnly(t *testing.T) {
	dir := t.TempDir()
	a := blob(100, 1)
	hexName := a.Digest.String()
	write := func(name string, data []byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(hexName, a.Data)
	write("."+hexName+".tmp-123456", a.Data[:10]) // a crashed write of a cache file
	foreign := []string{
		"notes.txt",
		".notes.txt.tmp-1",         // someone else's temp
		strings.ToUpper(hexName),   // not a name the cache writes
		strings.Repeat("0", 63),    // too short for a digest
		"." + hexName + ".partial", // not atomicfile's
	}
	for _, name := range foreign {
		write(name, []byte("not ours"))
	}
	if err := os.Mkdir(filepath.Join(dir, strings.Repeat("ab", 32)), 0o700); err != nil {
		t.Fatal(err)
	}
	foreign = append(foreign, strings.Repeat("ab", 32))

	c := open(t, Options{Dir: dir})
	want := append([]string{hexName}, foreign...)
	if got := names(t, dir); !sameSet(got, want) {
		t.Fatalf("files after Open: %q, want %q", got, want)
	}
	if s := c.Stats(); s.DiskItems != 1 || s.DiskBytes != 100 {
		t.Fatalf("stats %+v, want the one cache file", s)
	}
}

func sameSet(a, b []string) bool {
	return reflect.DeepEqual(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}

func TestDiskWriteFailsKeepsNothing(t *testing.T) {
	dir := t.TempDir()
	a := blob(100, 1)
	// A directory where the file should go makes the rename fail, even as
	// root.
	path := filepath.Join(dir, a.Digest.String())
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	c := open(t, Options{Dir: dir})
	_, err := c.Get(context.Background(), a.Digest, newSource(a))
	if err == nil || !strings.Contains(err.Error(), a.Digest.Short()) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Get: %v, want an error naming %s and %s", err, a.Digest.Short(), path)
	}
	if c.Holds(a.Digest) {
		t.Fatal("the cache holds what it failed to write")
	}
	if got := names(t, dir); !sameSet(got, []string{a.Digest.String()}) {
		t.Fatalf("files %q, want only the directory in the way", got)
	}
}

func TestOpenCreatesPrivateDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "cache")
	open(t, Options{Dir: dir})
	info, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != 0o700 {
		t.Fatalf("mode %v, want 0700", got)
	}
}

func TestOptionsDefaults(t *testing.T) {
	for _, tc := range []struct {
		name       string
		in         Options
		disk, mem  int64
		wantErrors []string
	}{
		{"zero budgets", Options{Dir: "x"}, DefaultDiskBytes, DefaultMemBytes, nil},
		{"both set", Options{Dir: "x", DiskBytes: 1, MemBytes: 2}, 1, 2, nil},
		{"disk set", Options{Dir: "x", DiskBytes: 10}, 10, DefaultMemBytes, nil},
		{"memory set", Options{Dir: "x", MemBytes: 10}, DefaultDiskBytes, 10, nil},
		{"no dir", Options{}, DefaultDiskBytes, DefaultMemBytes, []string{"Dir is empty"}},
		{"negative", Options{Dir: "x", DiskBytes: -1, MemBytes: -2}, -1, -2, []string{"DiskBytes is -1", "MemBytes is -2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.in.WithDefaults()
			if got.DiskBytes != tc.disk || got.MemBytes != tc.mem || got.Dir != tc.in.Dir {
				t.Fatalf("WithDefaults = %+v, want disk %d, memory %d", got, tc.disk, tc.mem)
			}
			err := got.Validate()
			if (err != nil) != (tc.wantErrors != nil) {
				t.Fatalf("Validate: %v, want errors %q", err, tc.wantErrors)
			}
			for _, want := range tc.wantErrors {
				if !strings.Contains(err.Error(), want) {
					t.Fatalf("Validate: %v, want it to say %q", err, want)
				}
			}
			if tc.wantErrors == nil {
				return
			}
			if _, err := Open(tc.in); err == nil {
				t.Fatal("Open accepted invalid options")
			}
		})
	}
}

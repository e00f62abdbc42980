package snapshot

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"

	"github.com/ethereum-optimism/optimism/cannon/mipsevm/memory"
	"github.com/ethereum-optimism/optimism/cannon/mipsevm/multithreaded"
	"github.com/ethereum-optimism/optimism/cannon/mipsevm/versions"
	"github.com/klauspost/compress/zstd"
)

// Reader reads one snapshot file. Open reads only the header and the
// footer; the index and the state section are read and checked the first
// time something needs them. A Reader is not safe for concurrent use.
type Reader struct {
	f    io.ReaderAt
	c    io.Closer // nil when the caller owns f
	path string
	size int64
	info Info
	foot footer

	indexErr error // result of the first loadIndex
	loaded   bool
	chunks   []chunkEntry
	pages    sortedPages
	state    []byte
	dec      *zstd.Decoder // for ReadPage
}

// IsSnapshot reports whether path starts with the snapshot magic.
func IsSnapshot(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	b := make([]byte, len(Magic))
	_, err = io.ReadFull(f, b)
	return err == nil && string(b) == Magic
}

// ReadInfo reads a snapshot's header (and checks its footer) without
// touching memory.
func ReadInfo(path string) (Info, error) {
	r, err := Open(path)
	if err != nil {
		return Info{}, err
	}
	defer r.Close()
	return r.Header(), nil
}

// Open opens a snapshot and checks its header and footer: magic, version,
// checksums, and that the sections the footer names tile the file.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open snapshot: %w", err)
	}
	r, err := open(f, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	return r, nil
}

func open(f *os.File, path string) (*Reader, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("open snapshot: %w", err)
	}
	r, err := OpenReaderAt(path, f, fi.Size())
	if err != nil {
		return nil, err
	}
	r.c = f
	return r, nil
}

// OpenReaderAt opens a snapshot held in ra (size bytes), for example one
// already in memory; name stands for it in errors. Close does not close ra.
func OpenReaderAt(name string, ra io.ReaderAt, size int64) (*Reader, error) {
	r := &Reader{f: ra, path: name, size: size}
	if r.size < HeaderSize+FooterSize {
		if magic, err := r.readAt(0, uint64(min(r.size, int64(len(Magic)))), "magic"); err == nil && !bytes.HasPrefix([]byte(Magic), magic) {
			return nil, fmt.Errorf("%s: offset 0: not a proofd snapshot: %w", name, ErrUnsupported)
		}
		return nil, corrupt(name, r.size, "file is %d bytes, a snapshot has at least %d", r.size, HeaderSize+FooterSize)
	}
	hdr, err := r.readAt(0, HeaderSize, "header")
	if err != nil {
		return nil, err
	}
	if r.info, err = decodeHeader(name, hdr, r.size); err != nil {
		return nil, err
	}
	foot, err := r.readAt(r.size-FooterSize, FooterSize, "footer")
	if err != nil {
		return nil, err
	}
	if r.foot, err = decodeFooter(name, foot, r.size, r.info); err != nil {
		return nil, err
	}
	return r, nil
}

// Header is the snapshot's header; it reads nothing.
func (r *Reader) Header() Info { return r.info }

// Close releases the file.
func (r *Reader) Close() error {
	if r.dec != nil {
		r.dec.Close()
	}
	if r.c == nil {
		return nil
	}
	return r.c.Close()
}

// readAt reads exactly n bytes at off; callers have bounded n by the file size.
func (r *Reader) readAt(off int64, n uint64, what string) ([]byte, error) {
	if off < 0 || off > r.size || n > uint64(r.size-off) {
		return nil, corrupt(r.path, off, "%s of %d bytes runs past the end of the %d-byte file", what, n, r.size)
	}
	b := make([]byte, n)
	if _, err := r.f.ReadAt(b, off); err != nil {
		return nil, fmt.Errorf("%s: offset %d: read %s: %w", r.path, off, what, err)
	}
	return b, nil
}

// loadIndex reads and checks the index and the state section, once.
func (r *Reader) loadIndex() error {
	if r.loaded {
		return r.indexErr
	}
	r.loaded = true
	r.indexErr = r.readIndex()
	return r.indexErr
}

func (r *Reader) readIndex() error {
	f := r.foot
	idx, err := r.readAt(int64(f.indexOff), f.indexLen, "index")
	if err != nil {
		return err
	}
	if got := crc(idx); got != f.indexCRC {
		return corrupt(r.path, int64(f.indexOff), "index crc32c %#08x, footer says %#08x", got, f.indexCRC)
	}
	if r.chunks, r.pages, err = decodeIndex(r.path, idx, r.info, f); err != nil {
		return err
	}
	if r.state, err = r.readAt(int64(f.stateOff), uint64(f.stateLen), "state section"); err != nil {
		return err
	}
	if got := crc(r.state); got != f.stateCRC {
		return corrupt(r.path, int64(f.stateOff), "state section crc32c %#08x, footer says %#08x", got, f.stateCRC)
	}
	return nil
}

// cannonState decodes the state section and checks that it is the state
// the header's witness describes (memory root aside).
func (r *Reader) cannonState() (*multithreaded.State, error) {
	if err := r.loadIndex(); err != nil {
		return nil, err
	}
	st, at, err := parseState(r.state)
	if err != nil {
		return nil, corrupt(r.path, int64(r.foot.stateOff)+int64(at), "state section: %v", err)
	}
	if w, _ := witnessFor(st, r.info.MemoryRoot()); !bytes.Equal(w, r.info.Witness) {
		return nil, corrupt(r.path, int64(r.foot.stateOff), "state section does not match the header's witness")
	}
	return st, nil
}

// Load reads a snapshot into a Cannon state. It checks every checksum, and
// hashes every page on opts.Workers cores, checking it against its stored
// root, so the state's first witness only folds page roots (Cannon cannot
// be handed the stored roots themselves; see the package documentation).
// A state whose pages would take more than opts.MaxMemoryBytes is refused
// from the header's page count, before anything else is read.
func Load(path string, opts Options) (*versions.VersionedState, error) {
	r, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.Load(opts)
}

// Load reads the whole snapshot into a Cannon state; see the package-level Load.
func (r *Reader) Load(opts Options) (*versions.VersionedState, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if err := checkMemory(r.path, offPageCount, r.info.PageCount, opts.MaxMemoryBytes); err != nil {
		return nil, err
	}
	st, err := r.cannonState()
	if err != nil {
		return nil, err
	}
	pages := make([]*memory.CachedPage, len(r.pages.pages))
	err = r.eachChunk(opts.Workers, nil, func(c *readChunk) error {
		for k := range c.count {
			p := st.Memory.AllocPage(r.pages.pages[c.first+k].index)
			copy(p.Data, c.page(k))
			pages[c.first+k] = p
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := r.hashPages(opts.Workers, pages); err != nil {
		return nil, err
	}
	return &versions.VersionedState{Version: r.info.StateVersion, FPVMState: st}, nil
}

// hashPages fills each page's Merkle cache on all cores and checks it
// against the root the index stores. Cannon's witness then only folds page
// roots instead of hashing all memory on one core, and a page whose bytes
// passed the CRC but not the root is caught here.
func (r *Reader) hashPages(workers int, pages []*memory.CachedPage) error {
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := w; k < len(pages); k += workers {
				if got := hashPage(pages[k]); got != r.pages.pages[k].root {
					errs[w] = corrupt(r.path, int64(HeaderSize), "page %#x hashes to %x, the index says %x",
						r.pages.pages[k].index, got[:4], r.pages.pages[k].root[:4])
					return
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Verify checks everything a snapshot claims: all checksums, that every
// page hashes to the root the index stores for it, that those roots fold
// into the memory root of the header's witness, that the state section is
// the rest of that witness, and that the claim is the witness's hash.
func Verify(path string) error {
	r, err := Open(path)
	if err != nil {
		return err
	}
	defer r.Close()
	return r.Verify()
}

// Verify checks the whole file; see the package-level Verify.
func (r *Reader) Verify() error {
	if _, err := r.cannonState(); err != nil {
		return err
	}
	workers := runtime.GOMAXPROCS(0)
	scratch := make([]memory.CachedPage, workers)
	err := r.eachChunk(workers, func(w int, c *readChunk) error {
		for k := range c.count {
			e := &r.pages.pages[c.first+k]
			if got := pageRoot(&scratch[w], c.page(k)); got != e.root {
				return corrupt(r.path, r.pageEntryOffset(c.first+k), "page %#x (chunk %d) hashes to %x, index says %x", e.index, c.n, got, e.root)
			}
		}
		return nil
	}, func(*readChunk) error { return nil })
	if err != nil {
		return err
	}
	if root := memoryRoot(r.pages); root != r.info.MemoryRoot() {
		return corrupt(r.path, 68, "page roots fold to memory root %x, witness says %x", root, r.info.MemoryRoot())
	}
	return nil
}

func (r *Reader) pageEntryOffset(pos int) int64 {
	return int64(r.foot.indexOff) + int64(len(r.chunks))*ChunkEntrySize + int64(pos)*PageEntrySize
}

// ReadPage returns the page with index idx (address idx*4096), reading and
// decompressing only the chunk that holds it.
func (r *Reader) ReadPage(idx uint64) ([]byte, error) {
	if err := r.loadIndex(); err != nil {
		return nil, err
	}
	pos, ok := r.pages.find(idx)
	if !ok {
		return nil, fmt.Errorf("%s: page %#x: %w", r.path, idx, ErrPageNotFound)
	}
	if r.dec == nil {
		var err error
		if r.dec, err = newDecoder(1); err != nil {
			return nil, err
		}
	}
	c := &readChunk{n: pos / int(r.info.PagesPerChunk)}
	if err := r.readChunk(c); err != nil {
		return nil, err
	}
	if err := r.decodeChunk(r.dec, c); err != nil {
		return nil, err
	}
	return bytes.Clone(c.page(pos - c.first)), nil
}

// readChunk is one chunk on its way from the file to a consumer.
type readChunk struct {
	n     int // chunk number
	first int // storage position of its first page
	count int // pages in it
	frame []byte
	data  []byte
}

func (c *readChunk) page(k int) []byte { return c.data[k*PageSize : (k+1)*PageSize] }

func newDecoder(workers int) (*zstd.Decoder, error) {
	return zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(workers),
		zstd.WithDecoderMaxMemory(MaxPagesPerChunk*PageSize),
		zstd.WithDecodeAllCapLimit(true))
}

// readChunk reads chunk c.n's frame into c, reusing c's buffers.
func (r *Reader) readChunk(c *readChunk) error {
	e := r.chunks[c.n]
	c.first = c.n * int(r.info.PagesPerChunk)
	c.count = r.info.pagesIn(uint64(c.n))
	if cap(c.frame) < int(e.frameLen) {
		c.frame = make([]byte, e.frameLen)
	}
	c.frame = c.frame[:e.frameLen]
	if _, err := r.f.ReadAt(c.frame, int64(e.off)); err != nil {
		return fmt.Errorf("%s: offset %d: read chunk %d: %w", r.path, e.off, c.n, err)
	}
	return nil
}

// decodeChunk checks and decompresses a frame read by readChunk.
func (r *Reader) decodeChunk(dec *zstd.Decoder, c *readChunk) error {
	e := r.chunks[c.n]
	if got := crc(c.frame); got != e.frameCRC {
		return corrupt(r.path, int64(e.off), "chunk %d frame crc32c %#08x, index says %#08x", c.n, got, e.frameCRC)
	}
	want := c.count * PageSize
	if cap(c.data) < want {
		c.data = make([]byte, 0, want)
	}
	data, err := dec.DecodeAll(c.frame, c.data[:0:want])
	if err != nil {
		return corrupt(r.path, int64(e.off), "chunk %d: zstd: %v", c.n, err)
	}
	if len(data) != want {
		return corrupt(r.path, int64(e.off), "chunk %d decompresses to %d bytes, want %d", c.n, len(data), want)
	}
	c.data = data
	if got := crc(c.data); got != e.dataCRC {
		return corrupt(r.path, int64(e.off), "chunk %d data crc32c %#08x, index says %#08x", c.n, got, e.dataCRC)
	}
	return nil
}

// eachChunk reads, checks and decompresses every chunk in order on
// workers goroutines, runs check (if any) there, then use on one goroutine
// in storage order. Buffers are recycled, so at most 2*workers+2 chunks are
// in memory at once.
func (r *Reader) eachChunk(workers int, check func(worker int, c *readChunk) error, use func(c *readChunk) error) error {
	if err := r.loadIndex(); err != nil {
		return err
	}
	dec, err := newDecoder(workers)
	if err != nil {
		return err
	}
	defer dec.Close()
	free := make(chan *readChunk, 2*workers+2)
	return runOrdered(workers, func(yield func(*readChunk) bool) error {
		for n := range r.chunks {
			var c *readChunk
			select {
			case c = <-free:
			default:
				c = new(readChunk)
			}
			c.n = n
			if err := r.readChunk(c); err != nil {
				return err
			}
			if !yield(c) {
				return nil
			}
		}
		return nil
	}, func(w int, c *readChunk) error {
		if err := r.decodeChunk(dec, c); err != nil {
			return err
		}
		if check != nil {
			return check(w, c)
		}
		return nil
	}, func(c *readChunk) error {
		if err := use(c); err != nil {
			return err
		}
		select {
		case free <- c:
		default:
		}
		return nil
	})
}

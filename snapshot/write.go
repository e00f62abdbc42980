package snapshot

import (
	"bufio"
	"fmt"
	"hash/crc32"
	"io"
	"math/bits"
	"slices"

	"github.com/ethereum-optimism/optimism/cannon/mipsevm/memory"
	"github.com/ethereum-optimism/optimism/cannon/mipsevm/multithreaded"
	"github.com/ethereum-optimism/optimism/cannon/mipsevm/versions"
	"github.com/klauspost/compress/zstd"

	"github.com/proofd/proofd/atomicfile"
)

// Write stores st at path as a snapshot, atomically.
//
// Pages are written in ascending page order, which is the order Cannon's
// own serialization uses, so ToCannon of the result equals Cannon's
// serialization of st byte for byte. Write reads st's pages through
// Cannon's per-page hash caches and fills them where they are cold, as
// Cannon's own MerkleRoot would; st must not be used by anything else
// until Write returns.
func Write(path string, st *versions.VersionedState, opts Options) error {
	mt, ok := st.FPVMState.(*multithreaded.State)
	if !ok || mt == nil || mt.Memory == nil {
		return fmt.Errorf("write snapshot %s: %T is not a cannon multithreaded state: %w", path, st.FPVMState, ErrUnsupported)
	}
	if !versions.IsSupportedMultiThreaded64(st.Version) {
		return fmt.Errorf("write snapshot %s: cannon state version %d (%s): %w", path, st.Version, st.Version, ErrUnsupported)
	}
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return err
	}
	state, err := stateBytes(mt)
	if err != nil {
		return fmt.Errorf("write snapshot %s: %w", path, err)
	}
	indices := make([]uint64, 0, mt.Memory.PageCount())
	_ = mt.Memory.ForEachPage(func(idx uint64, _ memory.Page) error {
		indices = append(indices, idx)
		return nil
	})
	slices.Sort(indices)
	return build(opts, path, st.Version, func(next func() *chunk, yield func(*chunk) bool) ([]byte, error) {
		for start := 0; start < len(indices); start += opts.PagesPerChunk {
			c := next()
			for _, idx := range indices[start:min(start+opts.PagesPerChunk, len(indices))] {
				p, _ := mt.Memory.PageLookup(idx)
				c.indices = append(c.indices, idx)
				c.src = append(c.src, p)
			}
			if !yield(c) {
				return nil, nil
			}
		}
		return state, nil
	})
}

// chunk is one unit of work: pages in, zstd frame and page roots out.
type chunk struct {
	indices []uint64
	// src holds a live state's pages, copied and hashed by the worker
	// through Cannon's caches; when it is empty, data already holds the pages.
	src      []*memory.CachedPage
	data     []byte
	roots    [][32]byte
	frame    []byte
	dataCRC  uint32
	frameCRC uint32
}

// builder lays out one snapshot file as chunks arrive from the pipeline.
type builder struct {
	opts    Options
	path    string
	out     *bufio.Writer
	off     uint64
	chunks  []chunkEntry
	pages   []pageEntry
	enc     *zstd.Encoder
	scratch []memory.CachedPage // one per worker, for hashing pages from a file
	free    chan *chunk
}

// producer yields chunks taken from next, then returns the state section.
type producer func(next func() *chunk, yield func(*chunk) bool) ([]byte, error)

// build writes a snapshot atomically: it writes chunks as the workers
// finish them, then the state section, index and footer, and the header
// last, at offset 0, once the memory root and so the claim are known.
func build(opts Options, path string, version versions.StateVersion, produce producer) error {
	// A frame never references data outside its chunk, so a window larger
	// than a chunk would only cost memory.
	window := max(zstd.MinWindowSize, 1<<bits.Len(uint(opts.PagesPerChunk*PageSize-1)))
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(opts.Level),
		zstd.WithEncoderConcurrency(opts.Workers),
		zstd.WithWindowSize(window),
		zstd.WithEncoderCRC(false))
	if err != nil {
		return fmt.Errorf("write snapshot %s: %w", path, err)
	}
	defer enc.Close()
	return atomicfile.WriteFS(opts.FS, path, 0o644, func(f atomicfile.File) error {
		b := &builder{
			opts:    opts,
			path:    path,
			out:     bufio.NewWriterSize(f, 1<<20),
			off:     HeaderSize,
			enc:     enc,
			scratch: make([]memory.CachedPage, opts.Workers),
			free:    make(chan *chunk, 2*opts.Workers+2),
		}
		if _, err := b.out.Write(make([]byte, HeaderSize)); err != nil {
			return b.ioErr(err)
		}
		var state []byte
		err := runOrdered(opts.Workers, func(yield func(*chunk) bool) error {
			var err error
			state, err = produce(b.next, yield)
			return err
		}, b.work, b.emit)
		if err != nil {
			return err
		}
		hdr, err := b.finish(version, state)
		if err != nil {
			return err
		}
		if err := b.out.Flush(); err != nil {
			return b.ioErr(err)
		}
		if _, err := f.WriteAt(hdr, 0); err != nil {
			return b.ioErr(err)
		}
		return nil
	})
}

func (b *builder) ioErr(err error) error { return fmt.Errorf("write snapshot %s: %w", b.path, err) }

func (b *builder) next() *chunk {
	select {
	case c := <-b.free:
		c.indices, c.src, c.roots = c.indices[:0], c.src[:0], c.roots[:0]
		return c
	default:
		n := b.opts.PagesPerChunk
		return &chunk{
			indices: make([]uint64, 0, n),
			src:     make([]*memory.CachedPage, 0, n),
			data:    make([]byte, 0, n*PageSize),
			roots:   make([][32]byte, 0, n),
		}
	}
}

// work hashes and compresses one chunk; it runs on worker w.
func (b *builder) work(w int, c *chunk) error {
	if len(c.src) > 0 {
		c.data = c.data[:len(c.src)*PageSize]
	}
	for k := range c.indices {
		page := c.data[k*PageSize : (k+1)*PageSize]
		if len(c.src) > 0 {
			copy(page, c.src[k].Data)
			c.roots = append(c.roots, hashPage(c.src[k]))
		} else {
			c.roots = append(c.roots, pageRoot(&b.scratch[w], page))
		}
	}
	c.dataCRC = crc(c.data)
	c.frame = b.enc.EncodeAll(c.data, c.frame[:0])
	c.frameCRC = crc(c.frame)
	return nil
}

// emit appends a finished chunk to the file, in order.
func (b *builder) emit(c *chunk) error {
	if _, err := b.out.Write(c.frame); err != nil {
		return b.ioErr(err)
	}
	b.chunks = append(b.chunks, chunkEntry{off: b.off, frameLen: uint32(len(c.frame)), frameCRC: c.frameCRC, dataCRC: c.dataCRC})
	b.off += uint64(len(c.frame))
	for k, idx := range c.indices {
		b.pages = append(b.pages, pageEntry{index: idx, root: c.roots[k]})
	}
	clear(c.src) // do not keep the state's pages reachable from the free list
	select {
	case b.free <- c:
	default:
	}
	return nil
}

// finish writes the state section, the index and the footer, and returns
// the header.
func (b *builder) finish(version versions.StateVersion, state []byte) ([]byte, error) {
	if len(state) > MaxStateSize {
		return nil, fmt.Errorf("write snapshot %s: cannon state is %d bytes, over the limit %d", b.path, len(state), MaxStateSize)
	}
	st, _, err := parseState(state)
	if err != nil {
		return nil, fmt.Errorf("write snapshot %s: %w", b.path, err)
	}
	order, dup := sortOrder(len(b.pages), func(k int) uint64 { return b.pages[k].index })
	if dup >= 0 {
		return nil, fmt.Errorf("write snapshot %s: duplicate page %#x", b.path, b.pages[dup].index)
	}
	witness, claim := witnessFor(st, memoryRoot(sortedPages{b.pages, order}))
	f := footer{stateOff: b.off, stateLen: uint32(len(state)), stateCRC: crc(state)}
	if _, err := b.out.Write(state); err != nil {
		return nil, b.ioErr(err)
	}
	f.indexOff = f.stateOff + uint64(len(state))
	f.indexLen, f.indexCRC, err = writeIndex(b.out, b.chunks, b.pages)
	if err != nil {
		return nil, b.ioErr(err)
	}
	if _, err := b.out.Write(encodeFooter(f)); err != nil {
		return nil, b.ioErr(err)
	}
	return encodeHeader(Info{
		FormatVersion: FormatVersion,
		Kind:          KindCannon,
		StateVersion:  version,
		PagesPerChunk: uint32(b.opts.PagesPerChunk),
		Step:          st.Step,
		PageCount:     uint64(len(b.pages)),
		Claim:         claim,
		Witness:       witness,
	}), nil
}

// writeIndex streams the chunk table and the page table, a batch at a time.
func writeIndex(w io.Writer, chunks []chunkEntry, pages []pageEntry) (n uint64, sum uint32, err error) {
	h := crc32.New(castagnoli)
	out := io.MultiWriter(w, h)
	const batch = 1024
	buf := make([]byte, 0, batch*PageEntrySize)
	for start := 0; start < len(chunks); start += batch {
		buf = appendIndex(buf[:0], chunks[start:min(start+batch, len(chunks))], nil)
		if _, err := out.Write(buf); err != nil {
			return 0, 0, err
		}
		n += uint64(len(buf))
	}
	for start := 0; start < len(pages); start += batch {
		buf = appendIndex(buf[:0], nil, pages[start:min(start+batch, len(pages))])
		if _, err := out.Write(buf); err != nil {
			return 0, 0, err
		}
		n += uint64(len(buf))
	}
	return n, h.Sum32(), nil
}

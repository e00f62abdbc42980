package snapshot

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ethereum-optimism/optimism/cannon/mipsevm/memory"
	"github.com/ethereum-optimism/optimism/cannon/mipsevm/multithreaded"
	"github.com/ethereum-optimism/optimism/cannon/mipsevm/versions"

	"github.com/proofd/proofd/atomicfile"
)

// Cannon's binary state file (.bin, or .bin.gz gzipped) is
//
//	version u8 | page count u64 | (page index u64, page [4096]byte)* | state
//
// with numbers big-endian, pages ascending when Cannon wrote them, and
// state the rest of State.Serialize, which this package stores verbatim.

// FromCannon converts a Cannon .bin or .bin.gz state file (gzip is detected
// by its magic bytes) into a snapshot at out, streaming: at most a bounded
// number of chunks of pages is in memory at once. Pages keep the order the
// input lists them in, so ToCannon gives back the input's bytes.
// Errors about the input name it and the offset of the bad byte, in the
// decompressed stream for a gzipped input.
func FromCannon(in, out string, opts Options) error {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return err
	}
	f, err := os.Open(in)
	if err != nil {
		return fmt.Errorf("convert cannon state: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("convert cannon state: %w", err)
	}
	var raw io.Reader = f
	if opts.Progress != nil {
		raw = &progressReader{r: f, report: opts.Progress}
	}
	src, err := newCannonReader(in, raw, fi.Size())
	if err != nil {
		return err
	}
	defer src.Close()
	var head [9]byte
	if err := src.full(head[:], "version and page count"); err != nil {
		return err
	}
	version := versions.StateVersion(head[0])
	if !versions.IsSupportedMultiThreaded64(version) {
		return fmt.Errorf("%s: offset 0: cannon state version %d (%s): %w", in, head[0], version, ErrUnsupported)
	}
	count := binary.BigEndian.Uint64(head[1:])
	if limit := src.maxPages(); count > limit {
		return src.corrupt(1, "page count %d, at most %d fit", count, limit)
	}
	if err := checkMemory(in, 1, count, opts.MaxMemoryBytes); err != nil {
		return err
	}
	return build(opts, out, version, func(next func() *chunk, yield func(*chunk) bool) ([]byte, error) {
		var indices []uint64
		for read := uint64(0); read < count; {
			c := next()
			n := int(min(uint64(opts.PagesPerChunk), count-read))
			c.data = c.data[:n*PageSize]
			for k := range n {
				at := src.off
				var idx [8]byte
				if err := src.full(idx[:], "page index"); err != nil {
					return nil, err
				}
				i := binary.BigEndian.Uint64(idx[:])
				if i > maxPageIndex {
					return nil, src.corrupt(at, "page index %#x beyond the 64-bit address space", i)
				}
				if err := src.full(c.data[k*PageSize:(k+1)*PageSize], "page data"); err != nil {
					return nil, err
				}
				c.indices = append(c.indices, i)
				indices = append(indices, i)
			}
			read += uint64(n)
			if !yield(c) {
				return nil, nil
			}
		}
		if _, dup := sortOrder(len(indices), func(k int) uint64 { return indices[k] }); dup >= 0 {
			return nil, src.corrupt(9+int64(dup)*cannonPageSz, "duplicate page %#x", indices[dup])
		}
		at := src.off
		state, err := io.ReadAll(io.LimitReader(src, MaxStateSize+1))
		if err != nil {
			return nil, src.readErr(err, "state")
		}
		if len(state) > MaxStateSize {
			return nil, src.corrupt(at, "state after memory is over the limit of %d bytes", MaxStateSize)
		}
		if k, err := checkStateLayout(state); err != nil {
			return nil, src.corrupt(at+int64(k), "%v", err)
		}
		return state, nil
	})
}

// cannonReader reads a Cannon state file, counting decompressed bytes.
type cannonReader struct {
	path string
	r    io.Reader
	off  int64
	size int64 // file size, or -1 when gzipped
	gz   bool
	zr   *gzip.Reader
}

// newCannonReader reads Cannon's encoding of size bytes from in, gunzipping
// it when it starts with gzip's magic.
func newCannonReader(path string, in io.Reader, size int64) (*cannonReader, error) {
	br := bufio.NewReaderSize(in, 1<<20)
	c := &cannonReader{path: path, r: br, size: size}
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, corrupt(path, 0, "gzip: %v", err)
		}
		c.r, c.size, c.gz, c.zr = bufio.NewReaderSize(zr, 1<<20), -1, true, zr
	}
	return c, nil
}

// Close releases the gzip reader, if any.
func (c *cannonReader) Close() error {
	if c.zr != nil {
		return c.zr.Close()
	}
	return nil
}

func (c *cannonReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.off += int64(n)
	return n, err
}

// maxPages bounds the page count: by the file size when it is not
// gzipped, by the address space when it is.
func (c *cannonReader) maxPages() uint64 {
	if c.size < 0 {
		return maxPageIndex + 1
	}
	return uint64(max(c.size-9-stateMinimum, 0)) / cannonPageSz
}

func (c *cannonReader) corrupt(off int64, format string, args ...any) error {
	err := corrupt(c.path, off, format, args...).(*CorruptError)
	if c.gz {
		err.Reason += " (offset in the decompressed stream)"
	}
	return err
}

func (c *cannonReader) full(b []byte, what string) error {
	if _, err := io.ReadFull(c, b); err != nil {
		return c.readErr(err, what)
	}
	return nil
}

func (c *cannonReader) readErr(err error, what string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return c.corrupt(c.off, "truncated in %s", what)
	}
	var flateErr flate.CorruptInputError
	if errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) || errors.As(err, &flateErr) {
		return c.corrupt(c.off, "reading %s: %v", what, err)
	}
	return fmt.Errorf("%s: offset %d: reading %s: %w", c.path, c.off, what, err)
}

// ReadCannon decodes a Cannon state (.bin, or .bin.gz by its magic bytes)
// of size bytes from in, bounding every count by the bytes there are before
// anything is allocated for it: duplicate pages, absurd page or thread
// counts and truncation are errors naming path and the offset. A state
// whose pages would take more than opts.MaxMemoryBytes is refused at its
// page count (offset 1), before any page is read or allocated, however far
// a gzipped file would decompress. Pages are allocated one by one as they
// are read. Only opts.MaxMemoryBytes matters here.
func ReadCannon(path string, in io.Reader, size int64, opts Options) (*versions.VersionedState, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	c, err := newCannonReader(path, in, size)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var head [9]byte
	if err := c.full(head[:1], "version"); err != nil {
		return nil, err
	}
	version := versions.StateVersion(head[0])
	if !versions.IsSupportedMultiThreaded64(version) {
		return nil, fmt.Errorf("%s: offset 0: not a proofd snapshot, nor a cannon state of a supported version (version byte %d, %s; want %d, %s): %w",
			path, head[0], version, uint8(versions.VersionMultiThreaded64_v5), versions.VersionMultiThreaded64_v5, ErrUnsupported)
	}
	if err := c.full(head[1:], "page count"); err != nil {
		return nil, err
	}
	count := binary.BigEndian.Uint64(head[1:])
	if limit := c.maxPages(); count > limit {
		return nil, c.corrupt(1, "page count %d, at most %d fit", count, limit)
	}
	if err := checkMemory(path, 1, count, opts.MaxMemoryBytes); err != nil {
		return nil, err
	}
	mem := memory.NewMemory()
	var idx [8]byte
	for range count {
		at := c.off
		if err := c.full(idx[:], "page index"); err != nil {
			return nil, err
		}
		i := binary.BigEndian.Uint64(idx[:])
		if i > maxPageIndex {
			return nil, c.corrupt(at, "page index %#x beyond the 64-bit address space", i)
		}
		if _, dup := mem.PageLookup(i); dup {
			return nil, c.corrupt(at, "duplicate page %#x", i)
		}
		if err := c.full(mem.AllocPage(i).Data, "page data"); err != nil {
			return nil, err
		}
	}
	at := c.off
	rest, err := io.ReadAll(io.LimitReader(c, MaxStateSize+1))
	if err != nil {
		return nil, c.readErr(err, "state")
	}
	if len(rest) > MaxStateSize {
		return nil, c.corrupt(at, "state after memory is over the limit of %d bytes", MaxStateSize)
	}
	if k, err := checkStateLayout(rest); err != nil {
		return nil, c.corrupt(at+int64(k), "%v", err)
	}
	st := new(multithreaded.State)
	// Cannon's decoder reads memory first: give it an empty one (page count 0).
	if err := st.Deserialize(io.MultiReader(bytes.NewReader(make([]byte, emptyMemorySize)), bytes.NewReader(rest))); err != nil {
		return nil, c.corrupt(at, "cannon cannot decode the state: %v", err)
	}
	st.Memory = mem
	return &versions.VersionedState{Version: version, FPVMState: st}, nil
}

// ToCannon converts a snapshot into Cannon's binary state file at out,
// gzipped when out ends in .gz (Go's gzip at the default level, as Cannon
// writes it), atomically. The result is byte-identical to the file the
// snapshot was converted from, or to Cannon's own serialization of the
// state it was written from. opts.Workers, MaxMemoryBytes and FS apply.
func ToCannon(in, out string, opts Options) error {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return err
	}
	r, err := Open(in)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := checkMemory(in, offPageCount, r.info.PageCount, opts.MaxMemoryBytes); err != nil {
		return err
	}
	if _, err := r.cannonState(); err != nil {
		return err
	}
	return atomicfile.WriteFS(opts.FS, out, 0o644, func(f atomicfile.File) error {
		bw := bufio.NewWriterSize(f, 1<<20)
		var w io.Writer = bw
		var zw *gzip.Writer
		if strings.HasSuffix(out, ".gz") {
			zw = gzip.NewWriter(bw)
			w = zw
		}
		head := binary.BigEndian.AppendUint64([]byte{byte(r.info.StateVersion)}, r.info.PageCount)
		if _, err := w.Write(head); err != nil {
			return fmt.Errorf("write %s: %w", out, err)
		}
		var idx [8]byte
		var read int64
		err := r.eachChunk(opts.Workers, nil, func(c *readChunk) error {
			if opts.Progress != nil {
				read += int64(len(c.frame))
				opts.Progress(read)
			}
			for k := range c.count {
				binary.BigEndian.PutUint64(idx[:], r.pages.pages[c.first+k].index)
				if _, err := w.Write(idx[:]); err != nil {
					return fmt.Errorf("write %s: %w", out, err)
				}
				if _, err := w.Write(c.page(k)); err != nil {
					return fmt.Errorf("write %s: %w", out, err)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if _, err := w.Write(r.state); err != nil {
			return fmt.Errorf("write %s: %w", out, err)
		}
		if zw != nil {
			if err := zw.Close(); err != nil {
				return fmt.Errorf("write %s: %w", out, err)
			}
		}
		if err := bw.Flush(); err != nil {
			return fmt.Errorf("write %s: %w", out, err)
		}
		if opts.Progress != nil {
			opts.Progress(r.size)
		}
		return nil
	})
}

// progressReader tells report the running total of the bytes read through it.
type progressReader struct {
	r      io.Reader
	n      int64
	report func(int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.n += int64(n)
		p.report(p.n)
	}
	return n, err
}

// IsCannonName reports whether path names a Cannon binary state file, the
// way Cannon itself decides: by a .bin or .bin.gz suffix.
func IsCannonName(path string) bool {
	return strings.HasSuffix(path, ".bin") || strings.HasSuffix(path, ".bin.gz")
}

// Convert converts in to out in whichever direction the files call for: a
// snapshot input to a Cannon file, a Cannon input to a snapshot. The input's
// format comes from its content, the output's from its name (IsCannonName).
func Convert(in, out string, opts Options) error {
	switch snap, cannon := IsSnapshot(in), IsCannonName(out); {
	case snap && cannon:
		return ToCannon(in, out, opts)
	case snap:
		return fmt.Errorf("convert %s: it is already a snapshot; name the output .bin or .bin.gz for Cannon's format", in)
	case cannon:
		return fmt.Errorf("convert %s: not a snapshot, and %s names a Cannon file; name the output anything but .bin or .bin.gz for a snapshot", in, out)
	}
	return FromCannon(in, out, opts)
}

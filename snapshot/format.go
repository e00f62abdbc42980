package snapshot

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/ethereum-optimism/optimism/cannon/mipsevm/memory"
	"github.com/ethereum-optimism/optimism/cannon/mipsevm/multithreaded"
	"github.com/ethereum-optimism/optimism/cannon/mipsevm/versions"
	"github.com/ethereum/go-ethereum/common"
)

// Magic opens every snapshot file and closes it (the last 8 bytes of the
// footer). The high first byte and the newline catch text-mode transfers.
const Magic = "\x89proofd\n"

// FormatVersion is the only container version this package reads and writes.
const FormatVersion = 1

// Sizes of the fixed sections and records, in bytes.
const (
	HeaderSize     = 320
	FooterSize     = 48
	ChunkEntrySize = 20
	PageEntrySize  = 40
	PageSize       = memory.PageSize

	witnessArea  = 248 // header bytes reserved for the witness
	headerCRCAt  = HeaderSize - 4
	footerCRCAt  = 36
	cannonPageSz = 8 + PageSize // one (u64 index, page) pair in Cannon's format
	offPageCount = 24           // of the header's page count
)

// Limits a reader enforces before it allocates anything a file asks for.
const (
	MaxPagesPerChunk = 1024     // 4 MiB of pages per chunk
	MaxStateSize     = 64 << 20 // Cannon's non-memory state, LastHint included
	// maxPageIndex bounds page indices to Cannon's 64-bit address space
	// (2^52 pages of 4 KiB); a larger index would corrupt Cannon's tree.
	maxPageIndex = memory.MaxPageCount - 1
)

// VMKind says which virtual machine a snapshot holds.
type VMKind uint8

// KindCannon is Cannon's MIPS64 multithreaded VM; the state version byte says which.
const KindCannon VMKind = 1

func (k VMKind) String() string {
	if k == KindCannon {
		return "cannon-mips64"
	}
	return fmt.Sprintf("unknown(%d)", uint8(k))
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func crc(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// Sentinel errors; every error from this package that is caused by a file's
// content wraps ErrCorrupt, ErrUnsupported or ErrMemoryLimit.
var (
	ErrCorrupt      = errors.New("corrupt snapshot")
	ErrUnsupported  = errors.New("unsupported snapshot")
	ErrPageNotFound = errors.New("page not in snapshot")
	// ErrMemoryLimit: the state is well formed but its pages would take
	// more memory than Options.MaxMemoryBytes allows.
	ErrMemoryLimit = errors.New("state over the memory limit")
)

// CorruptError says which file is bad, at which byte, and how.
type CorruptError struct {
	Path   string
	Offset int64
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("%s: offset %d: %s", e.Path, e.Offset, e.Reason)
}

func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

func corrupt(path string, off int64, format string, args ...any) error {
	return &CorruptError{Path: path, Offset: off, Reason: fmt.Sprintf(format, args...)}
}

// Info is what the header says about a snapshot.
type Info struct {
	FormatVersion uint16
	Kind          VMKind
	StateVersion  versions.StateVersion
	PagesPerChunk uint32
	Step          uint64
	PageCount     uint64
	// Claim is Cannon's StateWitness.StateHash() of Witness: the claim a
	// fault dispute game commits to, status byte included.
	Claim   common.Hash
	Witness []byte
}

// MemoryRoot is the Merkle root of guest memory, the witness's first field.
func (i Info) MemoryRoot() common.Hash {
	if len(i.Witness) < 32 {
		return common.Hash{}
	}
	return common.BytesToHash(i.Witness[:32])
}

// ChunkCount is the number of chunks the page count and chunk size imply.
func (i Info) ChunkCount() uint64 {
	if i.PagesPerChunk == 0 {
		return 0
	}
	return (i.PageCount + uint64(i.PagesPerChunk) - 1) / uint64(i.PagesPerChunk)
}

func (i Info) indexSize() uint64 {
	return i.ChunkCount()*ChunkEntrySize + i.PageCount*PageEntrySize
}

// pagesIn is how many pages chunk c holds: full chunks, then the remainder.
func (i Info) pagesIn(c uint64) int {
	return int(min(uint64(i.PagesPerChunk), i.PageCount-c*uint64(i.PagesPerChunk)))
}

func encodeHeader(i Info) []byte {
	b := make([]byte, HeaderSize)
	copy(b, Magic)
	binary.BigEndian.PutUint16(b[8:], i.FormatVersion)
	b[10] = byte(i.Kind)
	b[11] = byte(i.StateVersion)
	binary.BigEndian.PutUint32(b[12:], i.PagesPerChunk)
	binary.BigEndian.PutUint64(b[16:], i.Step)
	binary.BigEndian.PutUint64(b[24:], i.PageCount)
	copy(b[32:64], i.Claim[:])
	binary.BigEndian.PutUint32(b[64:], uint32(len(i.Witness)))
	copy(b[68:68+witnessArea], i.Witness)
	binary.BigEndian.PutUint32(b[headerCRCAt:], crc(b[:headerCRCAt]))
	return b
}

// decodeHeader checks every header field; fileSize bounds the page count.
func decodeHeader(path string, b []byte, fileSize int64) (Info, error) {
	if string(b[:8]) != Magic {
		return Info{}, fmt.Errorf("%s: offset 0: not a proofd snapshot (magic %q): %w", path, b[:8], ErrUnsupported)
	}
	if got, want := binary.BigEndian.Uint32(b[headerCRCAt:]), crc(b[:headerCRCAt]); got != want {
		return Info{}, corrupt(path, headerCRCAt, "header crc32c %#08x, computed %#08x", got, want)
	}
	i := Info{
		FormatVersion: binary.BigEndian.Uint16(b[8:]),
		Kind:          VMKind(b[10]),
		StateVersion:  versions.StateVersion(b[11]),
		PagesPerChunk: binary.BigEndian.Uint32(b[12:]),
		Step:          binary.BigEndian.Uint64(b[16:]),
		PageCount:     binary.BigEndian.Uint64(b[24:]),
		Claim:         common.BytesToHash(b[32:64]),
	}
	if i.FormatVersion != FormatVersion {
		return Info{}, fmt.Errorf("%s: offset 8: format version %d, this build reads %d: %w", path, i.FormatVersion, FormatVersion, ErrUnsupported)
	}
	if i.Kind != KindCannon {
		return Info{}, fmt.Errorf("%s: offset 10: vm kind %s: %w", path, i.Kind, ErrUnsupported)
	}
	if !versions.IsSupportedMultiThreaded64(i.StateVersion) {
		return Info{}, fmt.Errorf("%s: offset 11: cannon state version %d (%s): %w", path, b[11], i.StateVersion, ErrUnsupported)
	}
	if i.PagesPerChunk == 0 || i.PagesPerChunk > MaxPagesPerChunk {
		return Info{}, corrupt(path, 12, "pages per chunk %d, want 1..%d", i.PagesPerChunk, MaxPagesPerChunk)
	}
	if i.PageCount > uint64(fileSize)/PageEntrySize {
		return Info{}, corrupt(path, offPageCount, "page count %d does not fit a %d-byte file", i.PageCount, fileSize)
	}
	if n := binary.BigEndian.Uint32(b[64:]); n != multithreaded.STATE_WITNESS_SIZE {
		return Info{}, corrupt(path, 64, "witness length %d, want %d", n, multithreaded.STATE_WITNESS_SIZE)
	}
	i.Witness = append([]byte(nil), b[68:68+multithreaded.STATE_WITNESS_SIZE]...)
	for k, v := range b[68+multithreaded.STATE_WITNESS_SIZE : headerCRCAt] {
		if v != 0 {
			return Info{}, corrupt(path, int64(68+multithreaded.STATE_WITNESS_SIZE+k), "nonzero witness padding")
		}
	}
	if h, _ := multithreaded.StateWitness(i.Witness).StateHash(); h != i.Claim {
		return Info{}, corrupt(path, 32, "claim %s is not the witness's state hash %s", i.Claim, h)
	}
	if s := binary.BigEndian.Uint64(b[68+multithreaded.STEP_WITNESS_OFFSET:]); s != i.Step {
		return Info{}, corrupt(path, 16, "step %d, witness says %d", i.Step, s)
	}
	return i, nil
}

// footer locates the state section and the index.
type footer struct {
	stateOff uint64
	stateLen uint32
	stateCRC uint32
	indexOff uint64
	indexLen uint64
	indexCRC uint32
}

func encodeFooter(f footer) []byte {
	b := make([]byte, FooterSize)
	binary.BigEndian.PutUint64(b[0:], f.stateOff)
	binary.BigEndian.PutUint32(b[8:], f.stateLen)
	binary.BigEndian.PutUint32(b[12:], f.stateCRC)
	binary.BigEndian.PutUint64(b[16:], f.indexOff)
	binary.BigEndian.PutUint64(b[24:], f.indexLen)
	binary.BigEndian.PutUint32(b[32:], f.indexCRC)
	binary.BigEndian.PutUint32(b[footerCRCAt:], crc(b[:footerCRCAt]))
	copy(b[40:], Magic)
	return b
}

// decodeFooter checks that the footer is intact and that its sections tile
// the file exactly: header, chunks, state, index, footer.
func decodeFooter(path string, b []byte, fileSize int64, i Info) (footer, error) {
	at := fileSize - FooterSize
	if string(b[40:]) != Magic {
		return footer{}, corrupt(path, at+40, "footer magic %q missing: truncated or not a finished snapshot", b[40:])
	}
	if got, want := binary.BigEndian.Uint32(b[footerCRCAt:]), crc(b[:footerCRCAt]); got != want {
		return footer{}, corrupt(path, at+footerCRCAt, "footer crc32c %#08x, computed %#08x", got, want)
	}
	f := footer{
		stateOff: binary.BigEndian.Uint64(b[0:]),
		stateLen: binary.BigEndian.Uint32(b[8:]),
		stateCRC: binary.BigEndian.Uint32(b[12:]),
		indexOff: binary.BigEndian.Uint64(b[16:]),
		indexLen: binary.BigEndian.Uint64(b[24:]),
		indexCRC: binary.BigEndian.Uint32(b[32:]),
	}
	switch {
	case f.indexLen != i.indexSize():
		return footer{}, corrupt(path, at+24, "index length %d, header's %d pages in chunks of %d need %d", f.indexLen, i.PageCount, i.PagesPerChunk, i.indexSize())
	case f.indexOff > uint64(at) || f.indexOff+f.indexLen != uint64(at):
		return footer{}, corrupt(path, at+16, "index [%d, +%d) does not end at the footer (%d)", f.indexOff, f.indexLen, at)
	case f.stateLen > MaxStateSize:
		return footer{}, corrupt(path, at+8, "state length %d over the limit %d", f.stateLen, MaxStateSize)
	case f.stateOff < HeaderSize || f.stateOff > f.indexOff || f.indexOff-f.stateOff != uint64(f.stateLen):
		return footer{}, corrupt(path, at, "state section [%d, +%d) does not end at the index (%d)", f.stateOff, f.stateLen, f.indexOff)
	case (f.stateOff == HeaderSize) != (i.PageCount == 0):
		return footer{}, corrupt(path, at, "%d bytes of chunks for %d pages", f.stateOff-HeaderSize, i.PageCount)
	}
	return f, nil
}

// chunkEntry is one row of the index's chunk table.
type chunkEntry struct {
	off      uint64
	frameLen uint32
	frameCRC uint32 // crc32c of the zstd frame as stored
	dataCRC  uint32 // crc32c of the pages after decompression
}

// pageEntry is one row of the index's page table; rows are in storage order.
type pageEntry struct {
	index uint64
	root  [32]byte
}

// maxFrame bounds a chunk's compressed size: zstd never expands data by more
// than a few bytes per 128 KiB block plus the frame header.
func maxFrame(pages int) uint64 {
	raw := uint64(pages) * PageSize
	return raw + raw/1024 + 64
}

func appendIndex(dst []byte, chunks []chunkEntry, pages []pageEntry) []byte {
	for _, c := range chunks {
		dst = binary.BigEndian.AppendUint64(dst, c.off)
		dst = binary.BigEndian.AppendUint32(dst, c.frameLen)
		dst = binary.BigEndian.AppendUint32(dst, c.frameCRC)
		dst = binary.BigEndian.AppendUint32(dst, c.dataCRC)
	}
	for _, p := range pages {
		dst = binary.BigEndian.AppendUint64(dst, p.index)
		dst = append(dst, p.root[:]...)
	}
	return dst
}

// decodeIndex checks that chunks tile [HeaderSize, stateOff) in order, each
// within its size bound, and that page indices are in range and unique.
func decodeIndex(path string, b []byte, i Info, f footer) ([]chunkEntry, sortedPages, error) {
	chunks := make([]chunkEntry, i.ChunkCount())
	next := uint64(HeaderSize)
	for c := range chunks {
		at := int64(f.indexOff) + int64(c)*ChunkEntrySize
		r := b[c*ChunkEntrySize:]
		e := chunkEntry{
			off:      binary.BigEndian.Uint64(r[0:]),
			frameLen: binary.BigEndian.Uint32(r[8:]),
			frameCRC: binary.BigEndian.Uint32(r[12:]),
			dataCRC:  binary.BigEndian.Uint32(r[16:]),
		}
		if e.off != next {
			return nil, sortedPages{}, corrupt(path, at, "chunk %d at offset %d, previous chunk ends at %d", c, e.off, next)
		}
		if lim := maxFrame(i.pagesIn(uint64(c))); e.frameLen == 0 || uint64(e.frameLen) > lim {
			return nil, sortedPages{}, corrupt(path, at+8, "chunk %d frame length %d, want 1..%d", c, e.frameLen, lim)
		}
		next += uint64(e.frameLen)
		if next > f.stateOff {
			return nil, sortedPages{}, corrupt(path, at+8, "chunk %d runs past the state section at %d", c, f.stateOff)
		}
		chunks[c] = e
	}
	if next != f.stateOff {
		return nil, sortedPages{}, corrupt(path, int64(next), "%d stray bytes between the last chunk and the state section", f.stateOff-next)
	}
	pagesAt := int64(f.indexOff) + int64(len(chunks))*ChunkEntrySize
	pages := make([]pageEntry, i.PageCount)
	b = b[len(chunks)*ChunkEntrySize:]
	for k := range pages {
		r := b[k*PageEntrySize:]
		pages[k].index = binary.BigEndian.Uint64(r)
		copy(pages[k].root[:], r[8:40])
		if pages[k].index > maxPageIndex {
			return nil, sortedPages{}, corrupt(path, pagesAt+int64(k)*PageEntrySize, "page index %#x beyond the 64-bit address space", pages[k].index)
		}
	}
	order, dup := sortOrder(len(pages), func(k int) uint64 { return pages[k].index })
	if dup >= 0 {
		return nil, sortedPages{}, corrupt(path, pagesAt+int64(dup)*PageEntrySize, "duplicate page %#x", pages[dup].index)
	}
	return chunks, sortedPages{pages, order}, nil
}

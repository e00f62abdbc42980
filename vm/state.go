package vm

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"debug/elf"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ethereum-optimism/optimism/cannon/mipsevm/memory"
	"github.com/ethereum-optimism/optimism/cannon/mipsevm/multithreaded"
	"github.com/ethereum-optimism/optimism/cannon/mipsevm/program"
	"github.com/ethereum-optimism/optimism/cannon/mipsevm/versions"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/proofd/proofd/atomicfile"
	"github.com/proofd/proofd/snapshot"
)

// StateVersion is the only Cannon state version this package creates:
// multithreaded64-5, MIPS64. LoadState accepts every version Cannon
// supports (versions.IsSupportedMultiThreaded64).
const StateVersion = versions.VersionMultiThreaded64_v5

// LoadState reads a state from a proofd snapshot or a Cannon .bin or
// .bin.gz file; the format (and gzip) is detected from the content, not the
// name. Cannon files are read with every length bounded before anything is
// allocated, duplicate pages rejected, and errors naming the file and the
// offset of the bad byte (wrapping snapshot.ErrCorrupt or
// snapshot.ErrUnsupported), so a bad file is an error, never a panic.
func LoadState(path string) (*versions.VersionedState, error) {
	var st *versions.VersionedState
	var err error
	if snapshot.IsSnapshot(path) {
		st, err = snapshot.Load(path)
	} else {
		st, err = loadCannon(path)
	}
	if err != nil {
		return nil, err
	}
	if err := checkState(st); err != nil {
		return nil, fmt.Errorf("load state %s: %w", path, err)
	}
	return st, nil
}

// WriteState writes st to path atomically (temp file, fsync, rename, fsync
// of the directory): in Cannon's binary format when path ends in .bin, gzipped
// (as Cannon does it) when it ends in .bin.gz, and as a proofd snapshot
// otherwise. A Cannon file is byte-identical to what Cannon writes for st.
func WriteState(path string, st *versions.VersionedState) error {
	return writeState(path, st, snapshot.Options{})
}

func writeState(path string, st *versions.VersionedState, opts snapshot.Options) error {
	if err := checkState(st); err != nil {
		return fmt.Errorf("write state %s: %w", path, err)
	}
	if snapshot.IsCannonName(path) {
		return writeFileAtomic(path, st.Serialize)
	}
	return snapshot.Write(path, st, opts)
}

// checkState rejects what Cannon's VM cannot step: anything but a 64-bit
// multithreaded state of a supported version, or an empty active thread
// stack (Cannon panics on one).
func checkState(st *versions.VersionedState) error {
	if st == nil {
		return errors.New("no state")
	}
	if !versions.IsSupportedMultiThreaded64(st.Version) {
		return fmt.Errorf("cannon state version %d (%s) is not supported, want %s: %w", uint8(st.Version), st.Version, StateVersion, snapshot.ErrUnsupported)
	}
	mt, ok := st.FPVMState.(*multithreaded.State)
	if !ok || mt == nil || mt.Memory == nil {
		return fmt.Errorf("%T is not a cannon multithreaded state: %w", st.FPVMState, snapshot.ErrUnsupported)
	}
	active, side := mt.LeftThreadStack, "left"
	if mt.TraverseRight {
		active, side = mt.RightThreadStack, "right"
	}
	if len(active) == 0 {
		return fmt.Errorf("the active (%s) thread stack is empty: %w", side, snapshot.ErrCorrupt)
	}
	return nil
}

// Claim is the state's claim hash: Cannon's StateWitness.StateHash of its
// witness, with the VM status in the first byte. It hashes the pages whose
// Merkle caches are cold.
func Claim(st *versions.VersionedState) common.Hash {
	_, h := st.EncodeWitness()
	return h
}

// WitnessInfo is what `cannon witness` prints, field for field.
type WitnessInfo struct {
	StateVersion versions.StateVersion `json:"stateVersion"`
	WitnessHash  common.Hash           `json:"witnessHash"`
	Witness      hexutil.Bytes         `json:"witness"`
	Step         uint64                `json:"step"`
	Exited       bool                  `json:"exited"`
	ExitCode     uint8                 `json:"exitCode"`
}

// Witness is st's WitnessInfo.
func Witness(st *versions.VersionedState) WitnessInfo {
	w, h := st.EncodeWitness()
	return WitnessInfo{
		StateVersion: st.Version,
		WitnessHash:  h,
		Witness:      w,
		Step:         st.GetStep(),
		Exited:       st.GetExited(),
		ExitCode:     st.GetExitCode(),
	}
}

// WitnessJSON is exactly what `cannon witness --input` prints for st.
func WitnessJSON(st *versions.VersionedState) ([]byte, error) {
	return EncodeJSON(Witness(st))
}

// EncodeJSON encodes v the way Cannon's CLI writes JSON (op-service's
// jsonutil.WriteJSON): two-space indent, no HTML escaping, and a blank line
// at the end (the encoder's newline and one more).
func EncodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// WriteJSONFile writes v to path as EncodeJSON encodes it, gzipped when path
// ends in .gz (as Cannon does for proofs and metadata), atomically.
func WriteJSONFile(path string, v any) error {
	b, err := EncodeJSON(v)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return writeFileAtomic(path, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// writeFileAtomic streams fill into a temp file next to path, gzipped at
// Go's default level (what Cannon writes) when path ends in .gz, then
// fsyncs, renames and fsyncs the directory.
func writeFileAtomic(path string, fill func(io.Writer) error) error {
	return atomicfile.WriteFunc(path, 0o644, func(f io.Writer) error {
		bw := bufio.NewWriterSize(f, 1<<20)
		var w io.Writer = bw
		var zw *gzip.Writer
		if strings.HasSuffix(path, ".gz") {
			zw = gzip.NewWriter(bw)
			w = zw
		}
		if err := fill(w); err != nil {
			return err
		}
		if zw != nil {
			if err := zw.Close(); err != nil {
				return err
			}
		}
		return bw.Flush()
	})
}

// Clone deep-copies st through Cannon's own serialization, streamed through
// a pipe so that memory is never held twice in encoded form. The copy's
// Merkle caches are cold. st must not be stepped while Clone runs.
func Clone(st *versions.VersionedState) (*versions.VersionedState, error) {
	out := new(versions.VersionedState)
	if err := clone(st, out); err != nil {
		return nil, err
	}
	return out, nil
}

// CloneLargeICache is Clone into the memory layout `cannon run` uses
// (versions.VersionedStateWithLargeICache): code and heap in large mapped
// regions and, in a Machine, every instruction of the first 128 MiB
// decoded up front. A Machine on such a state costs about 0.75 s and
// 400 MiB more to create and steps about 20% faster, so it pays off for
// runs of more than roughly 50 million steps. Results are identical.
func CloneLargeICache(st *versions.VersionedState) (*versions.VersionedState, error) {
	out := new(versions.VersionedStateWithLargeICache)
	if err := clone(st, out); err != nil {
		return nil, err
	}
	return &out.VersionedState, nil
}

func clone(st *versions.VersionedState, out interface{ Deserialize(io.Reader) error }) error {
	if err := checkState(st); err != nil {
		return fmt.Errorf("clone state: %w", err)
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		bw := bufio.NewWriterSize(pw, 1<<20)
		err := st.Serialize(bw)
		if err == nil {
			err = bw.Flush()
		}
		pw.CloseWithError(err)
		done <- err
	}()
	err := out.Deserialize(bufio.NewReaderSize(pr, 1<<20))
	pr.CloseWithError(errors.New("clone stopped reading"))
	if werr := <-done; werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		return fmt.Errorf("clone state: %w", err)
	}
	return nil
}

// maxELFMemory bounds the memory an ELF's segments may ask for, so a
// hostile file cannot make LoadELF allocate terabytes.
const maxELFMemory = 1 << 30

// LoadELF builds the initial state of a MIPS64 big-endian ELF exactly as
// `cannon load-elf --type multithreaded64-5` does: Cannon's program.LoadELF
// into multithreaded.CreateInitialState, then program.PatchStack, and
// program.MakeMetadata for the symbols. Unlike Cannon it rejects ELFs that
// are not 64-bit big-endian, whose segments ask for more than 1 GiB, and
// recovers a panic from a malformed file as an error.
func LoadELF(path string) (st *versions.VersionedState, meta *program.Metadata, err error) {
	defer func() {
		if r := recover(); r != nil {
			st, meta, err = nil, nil, fmt.Errorf("load elf %s: malformed file: %v", path, r)
		}
	}()
	f, err := elf.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission) {
			return nil, nil, fmt.Errorf("load elf: %w", err)
		}
		return nil, nil, fmt.Errorf("load elf %s: %w", path, err)
	}
	defer f.Close()
	if f.Machine != elf.EM_MIPS {
		return nil, nil, fmt.Errorf("load elf %s: not a MIPS ELF but %s", path, f.Machine)
	}
	if f.Class != elf.ELFCLASS64 || f.Data != elf.ELFDATA2MSB {
		return nil, nil, fmt.Errorf("load elf %s: %s %s, want a 64-bit big-endian (MIPS64) ELF", path, f.Class, f.Data)
	}
	var total uint64
	for i, p := range f.Progs {
		if p.Type == elf.PT_MIPS_ABIFLAGS {
			continue
		}
		if p.Memsz > maxELFMemory || total+p.Memsz > maxELFMemory {
			return nil, nil, fmt.Errorf("load elf %s: segment %d: %d bytes of memory, more than the %d this loader allows", path, i, p.Memsz, maxELFMemory)
		}
		total += p.Memsz
	}
	mt, err := program.LoadELF(f, multithreaded.CreateInitialState)
	if err != nil {
		return nil, nil, fmt.Errorf("load elf %s: %w", path, err)
	}
	if err := program.PatchStack(mt); err != nil {
		return nil, nil, fmt.Errorf("load elf %s: patch stack: %w", path, err)
	}
	meta, err = program.MakeMetadata(f)
	if err != nil {
		return nil, nil, fmt.Errorf("load elf %s: metadata: %w", path, err)
	}
	vs, err := versions.NewFromState(StateVersion, mt)
	if err != nil {
		return nil, nil, fmt.Errorf("load elf %s: %w", path, err)
	}
	return vs, meta, nil
}

// Cannon's binary state file is
//
//	version u8 | page count u64 | (page index u64, page [4096]byte)* | rest
//
// big-endian, optionally gzipped, where rest is the remainder of
// State.Serialize. Its layout, to bound counts before Cannon parses it:
const (
	stateFixedSize = 32 + 8 + 8 + 1 + 8 + 8 + 1 + 1 + 8 + 8 + 1 + 8 // PreimageKey … NextThreadId
	threadSize     = multithreaded.SERIALIZED_THREAD_SIZE
	stateMinimum   = stateFixedSize + 8 + 8 + 4 // two empty thread stacks, no hint
	pageRecordSize = 8 + memory.PageSize
	maxPageIndex   = memory.MaxPageCount - 1
)

// cannonFile reads a Cannon state file, counting decompressed bytes so that
// errors can say where the bad byte is.
type cannonFile struct {
	path string
	r    io.Reader
	off  int64
	gz   bool
}

func (c *cannonFile) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.off += int64(n)
	return n, err
}

func (c *cannonFile) corrupt(off int64, format string, args ...any) error {
	reason := fmt.Sprintf(format, args...)
	if c.gz {
		reason += " (offset in the decompressed stream)"
	}
	return &snapshot.CorruptError{Path: c.path, Offset: off, Reason: reason}
}

func (c *cannonFile) full(b []byte, what string) error {
	if _, err := io.ReadFull(c, b); err != nil {
		return c.readErr(err, what)
	}
	return nil
}

func (c *cannonFile) readErr(err error, what string) error {
	var flateErr flate.CorruptInputError
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return c.corrupt(c.off, "truncated in %s", what)
	case errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) || errors.As(err, &flateErr):
		return c.corrupt(c.off, "reading %s: %v", what, err)
	}
	return fmt.Errorf("%s: offset %d: reading %s: %w", c.path, c.off, what, err)
}

func loadCannon(path string) (*versions.VersionedState, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load state: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("load state: %w", err)
	}
	return decodeCannon(path, f, fi.Size())
}

// DecodeState reads a state held in memory: a proofd snapshot or a Cannon
// .bin or .bin.gz encoding, with every count bounded as LoadState bounds
// it. name stands for the bytes in errors.
func DecodeState(name string, data []byte) (*versions.VersionedState, error) {
	if bytes.HasPrefix(data, []byte(snapshot.Magic)) {
		r, err := snapshot.OpenReaderAt(name, bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return nil, err
		}
		defer r.Close()
		return r.Load()
	}
	return decodeCannon(name, bytes.NewReader(data), int64(len(data)))
}

// decodeCannon reads Cannon's encoding of size bytes from in.
func decodeCannon(path string, in io.Reader, size int64) (*versions.VersionedState, error) {
	br := bufio.NewReaderSize(in, 1<<20)
	c := &cannonFile{path: path, r: br}
	maxPages := uint64(max(size-9-stateMinimum, 0)) / pageRecordSize
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, c.corrupt(0, "gzip: %v", err)
		}
		defer zr.Close()
		c.r, c.gz, maxPages = zr, true, maxPageIndex+1
	}
	var head [9]byte
	if err := c.full(head[:1], "version"); err != nil {
		return nil, err
	}
	version := versions.StateVersion(head[0])
	if !versions.IsSupportedMultiThreaded64(version) {
		return nil, fmt.Errorf("%s: offset 0: not a proofd snapshot, nor a cannon state of a supported version (version byte %d, %s; want %d, %s): %w",
			path, head[0], version, uint8(StateVersion), StateVersion, snapshot.ErrUnsupported)
	}
	if err := c.full(head[1:], "page count"); err != nil {
		return nil, err
	}
	count := binary.BigEndian.Uint64(head[1:])
	if count > maxPages {
		return nil, c.corrupt(1, "page count %d, at most %d fit", count, maxPages)
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
	rest, err := io.ReadAll(io.LimitReader(c, snapshot.MaxStateSize+1))
	if err != nil {
		return nil, c.readErr(err, "state")
	}
	if len(rest) > snapshot.MaxStateSize {
		return nil, c.corrupt(at, "state after memory is over the limit of %d bytes", snapshot.MaxStateSize)
	}
	if k, err := checkStateLayout(rest); err != nil {
		return nil, c.corrupt(at+int64(k), "%v", err)
	}
	st := new(multithreaded.State)
	// Cannon's decoder reads memory first: give it an empty one (page count 0).
	if err := st.Deserialize(io.MultiReader(bytes.NewReader(make([]byte, 8)), bytes.NewReader(rest))); err != nil {
		return nil, c.corrupt(at, "cannon cannot decode the state: %v", err)
	}
	st.Memory = mem
	return &versions.VersionedState{Version: version, FPVMState: st}, nil
}

// checkStateLayout bounds every count in the state after memory by its
// length, so Cannon's Deserialize (which allocates whatever a count says)
// is safe, and requires the encoding to end exactly at the end of b. It
// returns the offset in b of the first bad byte.
func checkStateLayout(b []byte) (int, error) {
	if len(b) < stateMinimum {
		return len(b), fmt.Errorf("truncated: the state after memory is %d bytes, the smallest is %d", len(b), stateMinimum)
	}
	at := stateFixedSize
	for _, side := range []string{"left", "right"} {
		if len(b)-at < 8 {
			return at, fmt.Errorf("truncated before the %s thread count", side)
		}
		n := binary.BigEndian.Uint64(b[at:])
		if n > uint64(len(b)-at-8)/threadSize {
			return at, fmt.Errorf("%s thread count %d does not fit in the %d bytes left", side, n, len(b)-at-8)
		}
		at += 8 + int(n)*threadSize
	}
	if len(b)-at < 4 {
		return at, errors.New("truncated before the hint length")
	}
	if n := binary.BigEndian.Uint32(b[at:]); uint64(n) != uint64(len(b)-at-4) {
		return at, fmt.Errorf("hint length %d, but %d bytes follow it", n, len(b)-at-4)
	}
	return 0, nil
}

package vm

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

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
// snapshot.ErrUnsupported), so a bad file is an error, never a panic. A
// state whose pages would take more host memory than opts.MaxMemoryBytes
// (default snapshot.DefaultMaxMemoryBytes) is refused with
// snapshot.ErrMemoryLimit before its pages are read.
func LoadState(path string, opts snapshot.Options) (*versions.VersionedState, error) {
	var st *versions.VersionedState
	var err error
	if snapshot.IsSnapshot(path) {
		st, err = snapshot.Load(path, opts)
	} else {
		st, err = loadCannon(path, opts)
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

func loadCannon(path string, opts snapshot.Options) (*versions.VersionedState, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load state: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("load state: %w", err)
	}
	return snapshot.ReadCannon(path, f, fi.Size(), opts)
}

// DecodeState reads a state held in memory: a proofd snapshot or a
// Cannon .bin or .bin.gz encoding, with every count bounded as LoadState
// bounds it; a caller with a memory budget passes it as
// opts.MaxMemoryBytes. name stands for the bytes in errors.
func DecodeState(name string, data []byte, opts snapshot.Options) (*versions.VersionedState, error) {
	if bytes.HasPrefix(data, []byte(snapshot.Magic)) {
		r, err := snapshot.OpenReaderAt(name, bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return nil, err
		}
		defer r.Close()
		return r.Load(opts)
	}
	return snapshot.ReadCannon(name, bytes.NewReader(data), int64(len(data)), opts)
}

package snark

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/ronanh/intcomp"
)

// The checks below walk the three sections of a gnark constraint system
// that gnark decodes in goroutines of its own (constraint/marshal.go), the
// way gnark will, so that a malformed file is an error here rather than an
// unrecoverable panic there. Layout of each (all little-endian):
//
//	levels:       u64 count, then count × compressed-u32 stream
//	instructions: 3 × compressed-u32 stream, 1 × compressed-u64 stream, equal lengths
//	calldata:     u64 count, then count uvarints
//
// A compressed stream is u64 n followed by n words of intcomp output.

var errShort = errors.New("truncated")

// uncompress32 reads one compressed-u32 stream and returns the values and
// the bytes it took.
func uncompress32(in []byte) (out []uint32, n int, err error) {
	if len(in) < 8 {
		return nil, 0, errShort
	}
	words := binary.LittleEndian.Uint64(in)
	if words > uint64(len(in)-8)/4 {
		return nil, 0, fmt.Errorf("stream of %d words in %d bytes", words, len(in)-8)
	}
	buf := make([]uint32, words)
	for i := range buf {
		buf[i] = binary.LittleEndian.Uint32(in[8+4*i:])
	}
	out, err = guarded(func() []uint32 { return intcomp.UncompressUint32(buf, nil) })
	return out, 8 + 4*int(words), err
}

func uncompress64(in []byte) (out []uint64, n int, err error) {
	if len(in) < 8 {
		return nil, 0, errShort
	}
	words := binary.LittleEndian.Uint64(in)
	if words > uint64(len(in)-8)/8 {
		return nil, 0, fmt.Errorf("stream of %d words in %d bytes", words, len(in)-8)
	}
	buf := make([]uint64, words)
	for i := range buf {
		buf[i] = binary.LittleEndian.Uint64(in[8+8*i:])
	}
	out, err = guarded(func() []uint64 { return intcomp.UncompressUint64(buf, nil) })
	return out, 8 + 8*int(words), err
}

// guarded runs a decompressor that panics on malformed input.
func guarded[T any](f func() []T) (out []T, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed compressed stream: %v", r)
		}
	}()
	return f(), nil
}

func checkLevels(in []byte) error {
	if len(in) < 8 {
		return errShort
	}
	count := binary.LittleEndian.Uint64(in)
	in = in[8:]
	if count > uint64(len(in))/8 {
		return fmt.Errorf("%d levels in %d bytes", count, len(in))
	}
	for i := uint64(0); i < count; i++ {
		_, n, err := uncompress32(in)
		if err != nil {
			return fmt.Errorf("level %d: %w", i, err)
		}
		in = in[n:]
	}
	return nil
}

func checkInstructions(in []byte) error {
	var lens [4]int
	for i := range 3 {
		out, n, err := uncompress32(in)
		if err != nil {
			return err
		}
		lens[i], in = len(out), in[n:]
	}
	out, _, err := uncompress64(in)
	if err != nil {
		return err
	}
	lens[3] = len(out)
	if lens[1] < lens[0] || lens[2] < lens[0] || lens[3] < lens[0] {
		return fmt.Errorf("instruction streams of unequal lengths %v", lens)
	}
	return nil
}

func checkCalldata(in []byte) error {
	if len(in) < 8 {
		return errShort
	}
	count := binary.LittleEndian.Uint64(in)
	if count > uint64(len(in)-8) {
		return fmt.Errorf("%d values in %d bytes", count, len(in)-8)
	}
	return nil
}

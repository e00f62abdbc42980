package receipts

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"
)

// Receipt is a stored proof and what a verifier needs beside it.
type Receipt struct {
	Proof  []byte
	Public []byte // the public inputs (witness) the proof was made for
	// Created is stored as Unix nanoseconds, so it must lie between the
	// years 1678 and 2262; Put stamps a zero Created with Options.Now.
	Created time.Time
}

// valueVersion is the only value layout so far; see the diagram in doc.go.
const valueVersion = 1

// Value field sizes.
const (
	valueHeaderLen = 1 + 4 // version, CRC32C
	// valueMinLen is a value with an empty proof and empty public inputs.
	valueMinLen = valueHeaderLen + 32 + 4 + 4 + 8
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var (
	// ErrCorrupt marks a stored value that does not decode or whose
	// checksum does not match; it is never served.
	ErrCorrupt = errors.New("receipt value is corrupt")
	// ErrStale marks a stored value whose statement digest differs from its
	// key's; it is never served.
	ErrStale = errors.New("receipt is stale: statement digest differs from the key's")
)

// encodeValue lays out a receipt for the statement it proves.
func encodeValue(statement [32]byte, r Receipt) []byte {
	b := make([]byte, valueHeaderLen, valueMinLen+len(r.Proof)+len(r.Public))
	b[0] = valueVersion
	b = append(b, statement[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(r.Proof)))
	b = append(b, r.Proof...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(r.Public)))
	b = append(b, r.Public...)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Created.UnixNano()))
	binary.BigEndian.PutUint32(b[1:], crc32.Checksum(b[valueHeaderLen:], castagnoli))
	return b
}

// decodeValue parses a value. Proof and Public alias b: nothing is
// allocated, so no length field can make it allocate more than b holds.
// Errors wrap ErrCorrupt and say what is wrong; the caller adds the key.
func decodeValue(b []byte) (statement [32]byte, r Receipt, err error) {
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrCorrupt)
	}
	if len(b) < valueMinLen {
		return statement, r, corrupt("value is %d bytes, shorter than the %d-byte minimum", len(b), valueMinLen)
	}
	if b[0] != valueVersion {
		return statement, r, corrupt("value version %d, want %d", b[0], valueVersion)
	}
	if got, want := crc32.Checksum(b[valueHeaderLen:], castagnoli), binary.BigEndian.Uint32(b[1:]); got != want {
		return statement, r, corrupt("checksum %08x, stored %08x", got, want)
	}
	rest := b[valueHeaderLen:]
	copy(statement[:], rest)
	rest = rest[32:]
	if r.Proof, rest, err = lengthPrefixed("proof", rest); err != nil {
		return statement, r, corrupt("%v", err)
	}
	if r.Public, rest, err = lengthPrefixed("public inputs", rest); err != nil {
		return statement, r, corrupt("%v", err)
	}
	if len(rest) != 8 {
		return statement, r, corrupt("%d bytes after the public inputs, want 8 (created-at)", len(rest))
	}
	r.Created = time.Unix(0, int64(binary.BigEndian.Uint64(rest)))
	return statement, r, nil
}

// lengthPrefixed splits a u32-length-prefixed field off b, checking the
// length against the bytes present before slicing.
func lengthPrefixed(name string, b []byte) (field, rest []byte, err error) {
	if len(b) < 4 {
		return nil, nil, fmt.Errorf("%s length: %d bytes left, want 4", name, len(b))
	}
	n := binary.BigEndian.Uint32(b)
	b = b[4:]
	if uint64(n) > uint64(len(b)) {
		return nil, nil, fmt.Errorf("%s length %d exceeds the %d bytes left", name, n, len(b))
	}
	return b[:n:n], b[n:], nil
}

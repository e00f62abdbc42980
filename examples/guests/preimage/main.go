// Command preimage is a guest for Cannon's MIPS64 VM that reads its input
// through the preimage oracle, speaking Cannon's guest protocol by hand so
// that it has no dependencies:
//
//	fd 4  hint write      u32 big-endian length, then the hint
//	fd 3  hint read       one ack byte per hint
//	fd 6  preimage write  the 32-byte typed key
//	fd 5  preimage read   u64 big-endian length, then exactly that many bytes
//
// It hints "input", reads local key 1 (key type 1, index 1 in the last
// eight bytes): a 32-byte Keccak-256 hash H. It hints "keccak <H>", reads
// the keccak preimage of H (key type 2, H with its first byte replaced by
// 2), prints SHA-256(H || preimage) and exits with that digest's first byte
// modulo 128 as its exit code, so the claim depends on both preimages.
//
// Build it with scripts/build-guests.sh; the result is
// testdata/guests/preimage.elf.
package main

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"
)

var (
	hintRead      = os.NewFile(3, "hint-read")
	hintWrite     = os.NewFile(4, "hint-write")
	preimageRead  = os.NewFile(5, "preimage-read")
	preimageWrite = os.NewFile(6, "preimage-write")
)

func hint(s string) {
	msg := binary.BigEndian.AppendUint32(nil, uint32(len(s)))
	msg = append(msg, s...)
	must(hintWrite.Write(msg))
	var ack [1]byte
	must(io.ReadFull(hintRead, ack[:]))
}

func get(key [32]byte) []byte {
	must(preimageWrite.Write(key[:]))
	var n [8]byte
	must(io.ReadFull(preimageRead, n[:]))
	data := make([]byte, binary.BigEndian.Uint64(n[:]))
	must(io.ReadFull(preimageRead, data))
	return data
}

func must(_ int, err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "preimage guest:", err)
		os.Exit(3)
	}
}

func main() {
	hint("input")
	var local [32]byte
	local[0] = 1
	binary.BigEndian.PutUint64(local[24:], 1)
	h := get(local)
	if len(h) != 32 {
		fmt.Fprintf(os.Stderr, "preimage guest: local input is %d bytes, want 32\n", len(h))
		os.Exit(4)
	}
	hint("keccak " + hex.EncodeToString(h))
	var key [32]byte
	copy(key[:], h)
	key[0] = 2
	data := get(key)
	d := sha256.Sum256(append(h, data...))
	fmt.Printf("preimage guest: %d-byte preimage, digest %x\n", len(data), d)
	os.Exit(int(d[0] % 128))
}

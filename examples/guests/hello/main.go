// Command hello is a deterministic guest for Cannon's MIPS64 VM: it chains
// SHA-256 over a counter 100 times, prints the final digest and exits 0
// after 1,553,427 steps (about 450,000 of them the Go runtime's start-up).
// It has no input; its run length and output are fixed, which makes it the
// reference program for the vm package's tests.
//
// Build it with scripts/build-guests.sh (Go 1.24, GOOS=linux GOARCH=mips64
// GOMIPS64=softfloat); the result is testdata/guests/hello.elf.
package main

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
)

const rounds = 100

func main() {
	var h [32]byte
	var ctr [8]byte
	for i := range rounds {
		binary.BigEndian.PutUint64(ctr[:], uint64(i))
		h = sha256.Sum256(append(h[:], ctr[:]...))
	}
	fmt.Printf("hello from cannon: sha256 chain of %d rounds = %x\n", rounds, h)
	os.Exit(0)
}

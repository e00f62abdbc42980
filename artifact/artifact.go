package artifact

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// Digest is the SHA-256 of an artifact's bytes.
type Digest [32]byte

// Parse checks that b is a 32-byte digest; field names the input in errors.
func Parse(field string, b []byte) (Digest, error) {
	var d Digest
	if len(b) != len(d) {
		return d, fmt.Errorf("%s: digest is %d bytes, want %d", field, len(b), len(d))
	}
	copy(d[:], b)
	return d, nil
}

// String is the digest in hex.
func (d Digest) String() string { return hex.EncodeToString(d[:]) }

// Short is the first 8 hex digits, for names and messages.
func (d Digest) Short() string { return hex.EncodeToString(d[:4]) }

// Artifact is a content-addressed blob. Data may be nil when the holder
// knows only the digest (the bytes are resident in an engine).
type Artifact struct {
	Digest Digest
	Data   []byte
}

// New hashes data once; pass the Artifact around to avoid hashing again.
func New(data []byte) Artifact {
	return Artifact{Digest: sha256.Sum256(data), Data: data}
}

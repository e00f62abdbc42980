package receipts

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
)

// Kind is the pipeline stage a receipt's proof belongs to.
type Kind uint8

// The kinds. Their byte values are part of the key layout (golden-tested).
const (
	KindTx        Kind = 1
	KindBatch     Kind = 2
	KindAggregate Kind = 3
)

// Kinds lists every valid kind in key order.
var Kinds = []Kind{KindTx, KindBatch, KindAggregate}

func (k Kind) String() string {
	switch k {
	case KindTx:
		return "tx"
	case KindBatch:
		return "batch"
	case KindAggregate:
		return "aggregate"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

func (k Kind) valid() bool { return k >= KindTx && k <= KindAggregate }

// Key field offsets and the encoded length; see the diagram in doc.go.
const (
	offCheckpoint = 0
	offBlock      = offCheckpoint + 8
	offKind       = offBlock + 32
	offImage      = offKind + 1
	offStatement  = offImage + 32
	offIndex      = offStatement + 32
	// KeyLen is the length of every encoded key.
	KeyLen = offIndex + 8
)

// Key names one receipt. Its encoding sorts by checkpoint first, so every
// receipt at or below a checkpoint is one contiguous key range (what Prune
// relies on).
type Key struct {
	Checkpoint uint64
	Block      [32]byte // hash of the block, so forks at one height never collide
	Kind       Kind
	Image      [32]byte // digest of the constraint system and verifying key
	Statement  [32]byte // StatementDigest of everything that defines what was proved
	// Index is kind-specific: tx: the transaction's index in the block;
	// batch: 0; aggregate: the bundle's end coordinate.
	Index uint64
}

// Encode is the key's fixed-length, order-preserving byte form.
func (k Key) Encode() []byte {
	b := make([]byte, KeyLen)
	binary.BigEndian.PutUint64(b[offCheckpoint:], k.Checkpoint)
	copy(b[offBlock:], k.Block[:])
	b[offKind] = byte(k.Kind)
	copy(b[offImage:], k.Image[:])
	copy(b[offStatement:], k.Statement[:])
	binary.BigEndian.PutUint64(b[offIndex:], k.Index)
	return b
}

// String is the encoded key in hex, the form errors name it by.
func (k Key) String() string { return hex.EncodeToString(k.Encode()) }

// Validate reports what makes k unstorable: an unknown kind, or a batch key
// with a non-zero index (a block has one batch proof per image and statement).
func (k Key) Validate() error {
	if err := k.problems(); err != nil {
		return fmt.Errorf("receipts: key %s: %w", k, err)
	}
	return nil
}

func (k Key) problems() error {
	var errs []error
	if !k.Kind.valid() {
		errs = append(errs, fmt.Errorf("kind %d is not tx (1), batch (2) or aggregate (3)", uint8(k.Kind)))
	}
	if k.Kind == KindBatch && k.Index != 0 {
		errs = append(errs, fmt.Errorf("batch key has index %d, want 0", k.Index))
	}
	return errors.Join(errs...)
}

// DecodeKey parses an encoded key; it accepts exactly what Encode produces
// for a valid Key.
func DecodeKey(b []byte) (Key, error) {
	if len(b) != KeyLen {
		return Key{}, fmt.Errorf("receipts: decode key %s: %d bytes, want %d", hexPrefix(b), len(b), KeyLen)
	}
	var k Key
	k.Checkpoint = binary.BigEndian.Uint64(b[offCheckpoint:])
	copy(k.Block[:], b[offBlock:])
	k.Kind = Kind(b[offKind])
	copy(k.Image[:], b[offImage:])
	copy(k.Statement[:], b[offStatement:])
	k.Index = binary.BigEndian.Uint64(b[offIndex:])
	if err := k.problems(); err != nil {
		return Key{}, fmt.Errorf("receipts: decode key %x: %w", b, err)
	}
	return k, nil
}

// hexPrefix names an input in an error without printing a huge one whole.
func hexPrefix(b []byte) string {
	if len(b) > 2*KeyLen {
		return hex.EncodeToString(b[:2*KeyLen]) + "…"
	}
	return hex.EncodeToString(b)
}

// checkpointPrefix is the smallest encoded key at checkpoint c.
func checkpointPrefix(c uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, c)
}

// pruneEnd is the exclusive upper bound of every key at checkpoints ≤ through.
func pruneEnd(through uint64) []byte {
	if through == math.MaxUint64 {
		// Above every KeyLen-byte key: KeyLen 0xff bytes and one more.
		end := make([]byte, KeyLen+1)
		for i := range end {
			end[i] = 0xff
		}
		return end
	}
	return checkpointPrefix(through + 1)
}

// Field is one named input to a statement digest.
type Field struct {
	Name  string
	Value []byte
}

// statementDomain separates statement digests from every other SHA-256 use.
const statementDomain = "proofd/receipts/statement/v1"

// StatementDigest hashes every input that defines what a proof proves: its
// public inputs, the previous state root, the tx or block payload, and the
// configuration that shaped the circuit. It is part of the key, so a proof
// made under any other configuration or input has a different key and can
// never be returned for this one.
//
// The encoding is SHA-256 over the domain string, the field count, then per
// field its name and value, each prefixed by its length (u64 big-endian):
// no two different field lists encode alike, so ("ab","c") and ("a","bc")
// differ and a value cannot pose as a name. Order is significant; callers
// pass fields in one fixed order.
func StatementDigest(fields ...Field) [32]byte {
	h := sha256.New()
	var n [8]byte
	put := func(b []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	put([]byte(statementDomain))
	binary.BigEndian.PutUint64(n[:], uint64(len(fields)))
	h.Write(n[:])
	for _, f := range fields {
		put([]byte(f.Name))
		put(f.Value)
	}
	var d [32]byte
	h.Sum(d[:0])
	return d
}

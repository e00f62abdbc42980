package rollup

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// MaxBlockTxs bounds the transactions a decoded block may hold.
const MaxBlockTxs = 1024

// Block is one block of the simulated chain.
type Block struct {
	Height       uint64
	Hash, Parent [32]byte
	Nonce        uint64 // distinguishes competing forks' blocks
	Txs          []Tx
}

// PrevRoot is the balance root before the block: the first tx's OldRoot
// (zero for a block without transactions).
func (b *Block) PrevRoot() Root {
	if len(b.Txs) == 0 {
		return Root{}
	}
	return b.Txs[0].OldRoot
}

// Root is the balance root after the block: the last tx's NewRoot (zero for
// a block without transactions).
func (b *Block) Root() Root {
	if len(b.Txs) == 0 {
		return Root{}
	}
	return b.Txs[len(b.Txs)-1].NewRoot
}

// blockDomain separates block hashes from every other SHA-256 use.
const blockDomain = "proofd/rollup/block/v1"

// ComputeHash is SHA-256 over the domain tag, Parent, Height, Nonce, the tx
// count and each tx's length-prefixed encoding. Hash is not an input.
func (b *Block) ComputeHash() [32]byte {
	h := sha256.New()
	h.Write([]byte(blockDomain))
	h.Write(b.Parent[:])
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], b.Height)
	h.Write(n[:])
	binary.BigEndian.PutUint64(n[:], b.Nonce)
	h.Write(n[:])
	binary.BigEndian.PutUint64(n[:], uint64(len(b.Txs)))
	h.Write(n[:])
	var buf []byte
	for i := range b.Txs {
		buf = appendTx(buf[:0], &b.Txs[i])
		binary.BigEndian.PutUint64(n[:], uint64(len(buf)))
		h.Write(n[:])
		h.Write(buf)
	}
	var d [32]byte
	h.Sum(d[:0])
	return d
}

// Encoding of a Block (integers big-endian):
//
//	Height u64 | Hash [32] | Parent [32] | Nonce u64 | n u32 | n × (len u32 | tx)
const blockFixedLen = 8 + 32 + 32 + 8 + 4

// MarshalBinary encodes b; it fails on a malformed tx, a tx count outside
// 1..MaxBlockTxs or a Hash other than ComputeHash().
func (b *Block) MarshalBinary() ([]byte, error) {
	if n := len(b.Txs); n < 1 || n > MaxBlockTxs {
		return nil, fmt.Errorf("rollup: marshal block %d: %d txs, want 1..%d", b.Height, n, MaxBlockTxs)
	}
	if h := b.ComputeHash(); h != b.Hash {
		return nil, fmt.Errorf("rollup: marshal block %d: Hash %x, want ComputeHash() %x", b.Height, b.Hash, h)
	}
	out := make([]byte, 0, blockFixedLen+len(b.Txs)*(4+minTxLen))
	out = binary.BigEndian.AppendUint64(out, b.Height)
	out = append(out, b.Hash[:]...)
	out = append(out, b.Parent[:]...)
	out = binary.BigEndian.AppendUint64(out, b.Nonce)
	out = binary.BigEndian.AppendUint32(out, uint32(len(b.Txs)))
	for i := range b.Txs {
		if err := b.Txs[i].Check(); err != nil {
			return nil, fmt.Errorf("rollup: marshal block %d: Txs[%d]: %w", b.Height, i, err)
		}
		start := len(out)
		out = append(out, 0, 0, 0, 0)
		out = appendTx(out, &b.Txs[i])
		binary.BigEndian.PutUint32(out[start:], uint32(len(out)-start-4))
	}
	return out, nil
}

// UnmarshalBinary decodes exactly what MarshalBinary produces. It allocates
// at most MaxBlockTxs txs and checks every length against the bytes left
// before using it; it rejects trailing bytes and a Hash that is not
// ComputeHash(). On error b is unchanged.
func (b *Block) UnmarshalBinary(data []byte) error {
	d := decoder{b: data}
	var out Block
	out.Height = d.u64("Height")
	d.root("Hash", &out.Hash)
	d.root("Parent", &out.Parent)
	out.Nonce = d.u64("Nonce")
	n := d.u32("tx count")
	if d.err == nil && (n < 1 || n > MaxBlockTxs) {
		d.err = fmt.Errorf("tx count %d out of range 1..%d", n, MaxBlockTxs)
	}
	if d.err == nil && uint64(n)*(4+minTxLen) > uint64(len(d.b)) {
		d.err = fmt.Errorf("tx count %d does not fit in %d bytes", n, len(d.b))
	}
	if d.err == nil {
		out.Txs = make([]Tx, n)
	}
	for i := range out.Txs {
		name := fmt.Sprintf("Txs[%d]", i)
		l := d.u32(name + " length")
		if d.err == nil && (l < minTxLen || l > maxTxLen) {
			d.err = fmt.Errorf("%s length %d out of range %d..%d", name, l, minTxLen, maxTxLen)
		}
		raw := d.take(name, int(l))
		if d.err != nil {
			break
		}
		if err := out.Txs[i].UnmarshalBinary(raw); err != nil {
			d.err = fmt.Errorf("%s: %w", name, err)
			break
		}
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d trailing bytes", len(d.b))
	}
	if d.err == nil {
		if h := out.ComputeHash(); h != out.Hash {
			d.err = fmt.Errorf("Hash %x, want ComputeHash() %x", out.Hash, h)
		}
	}
	if d.err != nil {
		return fmt.Errorf("rollup: unmarshal block (%d bytes): %w", len(data), d.err)
	}
	*b = out
	return nil
}

package rollup

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Opening is one account of a transfer: its leaf index, account id, balance
// before the transfer and Merkle path (siblings, leaf level first).
type Opening struct {
	Index   uint64
	ID      uint64
	Balance uint64
	Path    []Root
}

// Tx is one transfer of Amount from Sender to Receiver, turning the balance
// tree's OldRoot into NewRoot.
type Tx struct {
	OldRoot, NewRoot Root
	Amount           uint64
	Sender, Receiver Opening
}

// Encoding of a Tx (all integers big-endian):
//
//	OldRoot [32] | NewRoot [32] | Amount u64 | Sender | Receiver
//	opening: Index u64 | ID u64 | Balance u64 | n u32 | Path [n][32]
//
// The encoding is injective for every Tx value (the path lengths are
// explicit), so hashes of it (block hashes, statements) are too, even for a
// Tx that MarshalBinary refuses.
const (
	txFixedLen      = 32 + 32 + 8
	openingFixedLen = 8 + 8 + 8 + 4
	// maxTxLen is the longest valid encoding (depth MaxDepth).
	maxTxLen = txFixedLen + 2*(openingFixedLen+32*MaxDepth)
	// minTxLen is the shortest valid encoding (depth 1).
	minTxLen = txFixedLen + 2*(openingFixedLen+32)
)

// appendTx appends t's encoding without validating it.
func appendTx(dst []byte, t *Tx) []byte {
	dst = append(dst, t.OldRoot[:]...)
	dst = append(dst, t.NewRoot[:]...)
	dst = binary.BigEndian.AppendUint64(dst, t.Amount)
	for _, o := range []*Opening{&t.Sender, &t.Receiver} {
		dst = binary.BigEndian.AppendUint64(dst, o.Index)
		dst = binary.BigEndian.AppendUint64(dst, o.ID)
		dst = binary.BigEndian.AppendUint64(dst, o.Balance)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(o.Path)))
		for _, s := range o.Path {
			dst = append(dst, s[:]...)
		}
	}
	return dst
}

// Check reports every way t is malformed: path lengths outside 1..MaxDepth or
// different between the parties, an index outside the tree, a non-canonical
// root or sibling. It does not check that the transfer is valid (that is the
// circuit's job).
func (t *Tx) Check() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(checkRoot("OldRoot", t.OldRoot))
	add(checkRoot("NewRoot", t.NewRoot))
	depth := len(t.Sender.Path)
	if depth < 1 || depth > MaxDepth {
		add(fmt.Errorf("Sender.Path has %d siblings, want 1..%d", depth, MaxDepth))
	}
	if len(t.Receiver.Path) != depth {
		add(fmt.Errorf("Receiver.Path has %d siblings, want %d like Sender.Path", len(t.Receiver.Path), depth))
	}
	for _, p := range []struct {
		name string
		o    *Opening
	}{{"Sender", &t.Sender}, {"Receiver", &t.Receiver}} {
		if depth >= 1 && depth < 64 && p.o.Index>>depth != 0 {
			add(fmt.Errorf("%s.Index %d out of range for depth %d", p.name, p.o.Index, depth))
		}
		for i, s := range p.o.Path {
			add(checkRoot(fmt.Sprintf("%s.Path[%d]", p.name, i), s))
		}
	}
	return errors.Join(errs...)
}

// MarshalBinary encodes t; it fails if t is malformed (see Check).
func (t *Tx) MarshalBinary() ([]byte, error) {
	if err := t.Check(); err != nil {
		return nil, fmt.Errorf("rollup: marshal tx: %w", err)
	}
	return appendTx(make([]byte, 0, txFixedLen+2*(openingFixedLen+32*len(t.Sender.Path))), t), nil
}

// UnmarshalBinary decodes exactly what MarshalBinary produces: it rejects
// trailing bytes, a path longer than MaxDepth (before allocating it) and
// anything Check rejects. On error t is unchanged.
func (t *Tx) UnmarshalBinary(b []byte) error {
	var d decoder
	d.b = b
	var out Tx
	d.root("OldRoot", &out.OldRoot)
	d.root("NewRoot", &out.NewRoot)
	out.Amount = d.u64("Amount")
	for _, p := range []struct {
		name string
		o    *Opening
	}{{"Sender", &out.Sender}, {"Receiver", &out.Receiver}} {
		p.o.Index = d.u64(p.name + ".Index")
		p.o.ID = d.u64(p.name + ".ID")
		p.o.Balance = d.u64(p.name + ".Balance")
		n := d.u32(p.name + ".Path length")
		if d.err == nil && (n < 1 || n > MaxDepth) {
			d.err = fmt.Errorf("%s.Path length %d out of range 1..%d", p.name, n, MaxDepth)
		}
		if d.err != nil {
			break
		}
		p.o.Path = make([]Root, n)
		for i := range p.o.Path {
			d.root(fmt.Sprintf("%s.Path[%d]", p.name, i), &p.o.Path[i])
		}
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d trailing bytes", len(d.b))
	}
	if d.err == nil {
		d.err = out.Check()
	}
	if d.err != nil {
		return fmt.Errorf("rollup: unmarshal tx (%d bytes): %w", len(b), d.err)
	}
	*t = out
	return nil
}

// decoder reads big-endian fields, recording the first short read by name;
// once err is set every read returns zero.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) take(name string, n int) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.b) < n {
		d.err = fmt.Errorf("%s: %d bytes left, want %d", name, len(d.b), n)
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) u64(name string) uint64 {
	if v := d.take(name, 8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func (d *decoder) u32(name string) uint32 {
	if v := d.take(name, 4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (d *decoder) root(name string, r *Root) {
	if v := d.take(name, 32); v != nil {
		copy(r[:], v)
	}
}

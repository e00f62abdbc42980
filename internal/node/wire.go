package node

import (
	"encoding/hex"
	"fmt"

	"github.com/proofd/proofd/examples/rollup"
	ingestv1 "github.com/proofd/proofd/proto/ingestv1"
)

// Conversions between the ingest API's messages (proto/ingestv1) and the
// rollup's types. Hashes and roots are 32-byte big-endian hex; a block is
// the tx circuit's inputs for each of its transactions.

func hex32(field, s string) ([32]byte, error) {
	var out [32]byte
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		return out, fmt.Errorf("%s: want 64 hex digits, got %q", field, clip(s))
	}
	copy(out[:], b)
	return out, nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

func decodeOpening(o *ingestv1.Opening, field string, depth int) (rollup.Opening, error) {
	if o == nil {
		return rollup.Opening{}, fmt.Errorf("%s: missing", field)
	}
	op := rollup.Opening{Index: o.Index, ID: o.Id, Balance: o.Balance}
	if len(o.Path) != depth {
		return op, fmt.Errorf("%s.path: %d siblings, the tree has depth %d", field, len(o.Path), depth)
	}
	for i, s := range o.Path {
		r, err := hex32(fmt.Sprintf("%s.path[%d]", field, i), s)
		if err != nil {
			return op, err
		}
		op.Path = append(op.Path, r)
	}
	return op, nil
}

// decodeBlock turns a submitted block into the rollup's block, checking
// every field against p: the hash must be the block's own
// (rollup.ComputeHash). Errors name the field (hash, txs[1].sender.path[2]).
func decodeBlock(w *ingestv1.Block, p rollup.Params) (*rollup.Block, error) {
	b := &rollup.Block{Height: w.Height, Nonce: w.Nonce}
	var err error
	if b.Hash, err = hex32("hash", w.Hash); err != nil {
		return nil, err
	}
	if b.Parent, err = hex32("parent", w.Parent); err != nil {
		return nil, err
	}
	if len(w.Txs) != p.TxsPerBlock {
		return nil, fmt.Errorf("txs: %d transactions, the batch circuit takes %d", len(w.Txs), p.TxsPerBlock)
	}
	for i, t := range w.Txs {
		field := fmt.Sprintf("txs[%d]", i)
		tx := rollup.Tx{Amount: t.Amount}
		if tx.OldRoot, err = hex32(field+".old_root", t.OldRoot); err != nil {
			return nil, err
		}
		if tx.NewRoot, err = hex32(field+".new_root", t.NewRoot); err != nil {
			return nil, err
		}
		if tx.Sender, err = decodeOpening(t.Sender, field+".sender", p.Depth); err != nil {
			return nil, err
		}
		if tx.Receiver, err = decodeOpening(t.Receiver, field+".receiver", p.Depth); err != nil {
			return nil, err
		}
		if err := tx.Check(); err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		b.Txs = append(b.Txs, tx)
	}
	if got := b.ComputeHash(); got != b.Hash {
		return nil, fmt.Errorf("hash: %x is not the block's hash %x", b.Hash, got)
	}
	return b, nil
}

// encodeBlock is decode's inverse: what a sequencer submits for b.
func encodeBlock(b *rollup.Block) *ingestv1.Block {
	w := &ingestv1.Block{Height: b.Height, Hash: hex.EncodeToString(b.Hash[:]), Parent: hex.EncodeToString(b.Parent[:]), Nonce: b.Nonce}
	opening := func(o rollup.Opening) *ingestv1.Opening {
		wo := &ingestv1.Opening{Index: o.Index, Id: o.ID, Balance: o.Balance}
		for _, r := range o.Path {
			wo.Path = append(wo.Path, hex.EncodeToString(r[:]))
		}
		return wo
	}
	for _, t := range b.Txs {
		w.Txs = append(w.Txs, &ingestv1.Tx{OldRoot: hex.EncodeToString(t.OldRoot[:]), NewRoot: hex.EncodeToString(t.NewRoot[:]),
			Amount: t.Amount, Sender: opening(t.Sender), Receiver: opening(t.Receiver)})
	}
	return w
}

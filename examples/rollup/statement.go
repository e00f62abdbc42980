package rollup

import (
	"crypto/sha256"
	"encoding/binary"

	"github.com/proofd/proofd/receipts"
)

// Statement field names. They are part of every statement digest: renaming
// one changes every digest.
const (
	fieldParams   = "rollup/params"
	fieldOldRoot  = "old_root"
	fieldNewRoot  = "new_root"
	fieldAmount   = "amount"
	fieldTx       = "tx"
	fieldPrevRoot = "prev_root"
	fieldRoot     = "root"
	fieldHeight   = "height"
	fieldHash     = "hash"
	fieldProof    = "proof_sha256"
)

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func paramsField(p Params) receipts.Field {
	d := p.Digest()
	return receipts.Field{Name: fieldParams, Value: d[:]}
}

// TxStatement digests what a tx proof proves: the params, the old and new
// roots, the amount and the tx's encoding.
func TxStatement(p Params, tx *Tx) [32]byte {
	return receipts.StatementDigest(
		paramsField(p),
		receipts.Field{Name: fieldOldRoot, Value: tx.OldRoot[:]},
		receipts.Field{Name: fieldNewRoot, Value: tx.NewRoot[:]},
		receipts.Field{Name: fieldAmount, Value: u64(tx.Amount)},
		receipts.Field{Name: fieldTx, Value: appendTx(nil, tx)},
	)
}

// BatchStatement digests what a batch proof proves: the params, the prev
// root, the root, the block's height and hash, and every tx's encoding in
// order.
func BatchStatement(p Params, b *Block) [32]byte {
	prev, root := b.PrevRoot(), b.Root()
	fields := []receipts.Field{
		paramsField(p),
		{Name: fieldPrevRoot, Value: prev[:]},
		{Name: fieldRoot, Value: root[:]},
		{Name: fieldHeight, Value: u64(b.Height)},
		{Name: fieldHash, Value: b.Hash[:]},
	}
	for i := range b.Txs {
		fields = append(fields, receipts.Field{Name: fieldTx, Value: appendTx(nil, &b.Txs[i])})
	}
	return receipts.StatementDigest(fields...)
}

// AggregateStatement digests what an aggregate proof proves: the params
// and, per ref in order, its height, roots and sha256(proof).
func AggregateStatement(p Params, refs []BatchRef) [32]byte {
	fields := []receipts.Field{paramsField(p)}
	for _, r := range refs {
		d := sha256.Sum256(r.Proof)
		fields = append(fields,
			receipts.Field{Name: fieldHeight, Value: u64(r.Height)},
			receipts.Field{Name: fieldPrevRoot, Value: r.PrevRoot[:]},
			receipts.Field{Name: fieldRoot, Value: r.Root[:]},
			receipts.Field{Name: fieldProof, Value: d[:]},
		)
	}
	return receipts.StatementDigest(fields...)
}

package rollup

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"strings"
	"testing"
)

func sampleBlock(t testing.TB) *Block {
	t.Helper()
	events, err := Simulate(SimConfig{Params: Params{Depth: 3, TxsPerBlock: 2, BundleSize: 1}, Seed: 5, Blocks: 2, Reorgs: -1})
	if err != nil {
		t.Fatal(err)
	}
	return events[len(events)-1].Block
}

func TestTxRoundTrip(t *testing.T) {
	tx := &sampleBlock(t).Txs[1]
	enc, err := tx.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got Tx
	if err := got.UnmarshalBinary(enc); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, tx) {
		t.Fatal("round trip changed the tx")
	}
	if len(enc) != txFixedLen+2*(openingFixedLen+32*3) {
		t.Fatalf("encoding is %d bytes", len(enc))
	}
}

func TestTxUnmarshalErrors(t *testing.T) {
	tx := &sampleBlock(t).Txs[0]
	enc, _ := tx.MarshalBinary()
	senderLen := txFixedLen + 24 // offset of Sender's path length
	for _, tc := range []struct {
		name, want string
		mutate     func([]byte) []byte
	}{
		{"truncated", "Receiver.Path[2]", func(b []byte) []byte { return b[:len(b)-1] }},
		{"trailing", "trailing", func(b []byte) []byte { return append(b, 0) }},
		{"empty", "OldRoot", func(b []byte) []byte { return nil }},
		{"non-canonical root", "NewRoot", func(b []byte) []byte { b[32] = 0xff; return b }},
		{"deep path", "Sender.Path length 33", func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[senderLen:], 33)
			return b
		}},
		{"huge path", "Sender.Path length 4294967295", func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[senderLen:], ^uint32(0))
			return b
		}},
		{"index outside tree", "Sender.Index 8", func(b []byte) []byte {
			binary.BigEndian.PutUint64(b[txFixedLen:], 8)
			return b
		}},
	} {
		var got Tx
		err := got.UnmarshalBinary(tc.mutate(bytes.Clone(enc)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one naming %q", tc.name, err, tc.want)
		}
		if !reflect.DeepEqual(got, Tx{}) {
			t.Errorf("%s: failed decode changed the tx", tc.name)
		}
	}
	bad := *tx
	bad.Receiver.Path = bad.Receiver.Path[:2]
	if _, err := bad.MarshalBinary(); err == nil || !strings.Contains(err.Error(), "Receiver.Path") {
		t.Errorf("mismatched paths: %v", err)
	}
}

func TestBlockRoundTrip(t *testing.T) {
	b := sampleBlock(t)
	enc, err := b.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got Block
	if err := got.UnmarshalBinary(enc); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, b) {
		t.Fatal("round trip changed the block")
	}

	for _, tc := range []struct {
		name, want string
		mutate     func([]byte) []byte
	}{
		{"hash", "ComputeHash", func(b []byte) []byte { b[8] ^= 1; return b }},
		{"nonce", "ComputeHash", func(b []byte) []byte { b[72+7] ^= 1; return b }},
		{"no txs", "tx count 0", func(b []byte) []byte { return binary.BigEndian.AppendUint32(b[:80], 0) }},
		{"too many txs", "tx count 1025", func(b []byte) []byte { return binary.BigEndian.AppendUint32(b[:80], 1025) }},
		{"count beyond input", "does not fit", func(b []byte) []byte { return binary.BigEndian.AppendUint32(b[:80], 1000) }},
		{"tx length", "Txs[0] length", func(b []byte) []byte { binary.BigEndian.PutUint32(b[84:], 1<<30); return b }},
		{"bad tx", "Txs[1]", func(b []byte) []byte { b[len(b)-1]++; b[len(b)-32] = 0xff; return b }},
		{"trailing", "trailing", func(b []byte) []byte { return append(b, 0) }},
	} {
		var got Block
		err := got.UnmarshalBinary(tc.mutate(bytes.Clone(enc)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one naming %q", tc.name, err, tc.want)
		}
	}

	stale := *b
	stale.Nonce++
	if _, err := stale.MarshalBinary(); err == nil {
		t.Error("block with a stale hash marshalled")
	}
}

func TestStatementsDiffer(t *testing.T) {
	b := sampleBlock(t)
	p := Params{Depth: 3, TxsPerBlock: 2, BundleSize: 1}
	seen := map[[32]byte]string{}
	add := func(name string, d [32]byte) {
		if prev, ok := seen[d]; ok {
			t.Errorf("%s and %s have one statement digest", prev, name)
		}
		seen[d] = name
	}
	add("tx0", TxStatement(p, &b.Txs[0]))
	add("tx1", TxStatement(p, &b.Txs[1]))
	add("tx0 other params", TxStatement(Params{Depth: 3, TxsPerBlock: 1}, &b.Txs[0]))
	add("batch", BatchStatement(p, b))
	other := *b
	other.Height++
	add("batch other height", BatchStatement(p, &other))
	refs := []BatchRef{{Height: 1, PrevRoot: b.PrevRoot(), Root: b.Root(), Proof: []byte{1}}}
	add("aggregate", AggregateStatement(p, refs))
	refs[0].Proof = []byte{2}
	add("aggregate other proof", AggregateStatement(p, refs))
	if TxStatement(p, &b.Txs[0]) != TxStatement(p, &b.Txs[0]) {
		t.Error("statement is not deterministic")
	}
}

func FuzzTxUnmarshal(f *testing.F) {
	b := sampleBlock(f)
	for i := range b.Txs {
		enc, _ := b.Txs[i].MarshalBinary()
		f.Add(enc)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var tx Tx
		if tx.UnmarshalBinary(data) != nil {
			return
		}
		enc, err := tx.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded tx does not marshal: %v", err)
		}
		if !bytes.Equal(enc, data) {
			t.Fatal("decoded tx re-encodes differently")
		}
	})
}

func FuzzBlockUnmarshal(f *testing.F) {
	enc, _ := sampleBlock(f).MarshalBinary()
	f.Add(enc)
	f.Add(enc[:100])
	f.Fuzz(func(t *testing.T, data []byte) {
		var b Block
		if b.UnmarshalBinary(data) != nil {
			return
		}
		re, err := b.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded block does not marshal: %v", err)
		}
		if !bytes.Equal(re, data) {
			t.Fatal("decoded block re-encodes differently")
		}
	})
}

func FuzzDecodeProof(f *testing.F) {
	f.Add(make([]byte, 244))
	f.Add(append(make([]byte, 192), 0, 0, 0, 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := decodeProof(TxCurve, data); err == nil && len(data) > 244+maxProofCommitments*48 {
			t.Fatalf("decoded a %d-byte proof", len(data))
		}
	})
}

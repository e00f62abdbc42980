package receipts

import (
	"context"
	"testing"
)

func TestBlockListsOneBlocksReceipts(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	ctx := context.Background()
	a, b := [32]byte{0xaa}, [32]byte{0xbb}
	put := func(k Key) {
		t.Helper()
		if err := s.Put(ctx, k, Receipt{Proof: []byte{byte(k.Kind), byte(k.Index)}, Public: []byte{1}}); err != nil {
			t.Fatal(err)
		}
	}
	// Block a at 7: two tx proofs and a batch; its fork b at 7, and a at 8
	// (a block hash at another height): none of them a's at 7.
	put(Key{Checkpoint: 7, Block: a, Kind: KindTx, Index: 1})
	put(Key{Checkpoint: 7, Block: a, Kind: KindTx, Index: 0})
	put(Key{Checkpoint: 7, Block: a, Kind: KindBatch})
	put(Key{Checkpoint: 7, Block: b, Kind: KindTx})
	put(Key{Checkpoint: 8, Block: a, Kind: KindTx})
	var got []Key
	err := s.Block(7, a, func(k Key, r Receipt) error {
		if r.Proof[0] != byte(k.Kind) || r.Proof[1] != byte(k.Index) {
			t.Errorf("%v: receipt %v", k, r)
		}
		got = append(got, k)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Kind != KindTx || got[0].Index != 0 || got[1].Index != 1 || got[2].Kind != KindBatch {
		t.Fatalf("block a at 7: %v", got)
	}
	if err := s.Block(9, a, func(Key, Receipt) error { t.Error("a receipt at 9"); return nil }); err != nil {
		t.Fatal(err)
	}
}

package receipts_test

import (
	"context"
	"fmt"
	"log"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/proofd/proofd/receipts"
)

func Example() {
	// A real store takes a directory on disk and the default filesystem.
	s, err := receipts.Open("receipts", receipts.Options{FS: vfs.NewMem()})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	k := receipts.Key{
		Checkpoint: 12,
		Block:      [32]byte{0xb1},
		Kind:       receipts.KindTx,
		Image:      [32]byte{0x1a},
		// Everything that defines what was proved, configuration included.
		Statement: receipts.StatementDigest(
			receipts.Field{Name: "prev-root", Value: []byte{0x01}},
			receipts.Field{Name: "tx", Value: []byte("transfer 5 from a to b")},
			receipts.Field{Name: "tree-depth", Value: []byte{20}},
		),
		Index: 3,
	}
	if err := s.Put(context.Background(), k, receipts.Receipt{Proof: []byte("proof"), Public: []byte("public")}); err != nil {
		log.Fatal(err)
	}
	r, ok, err := s.Get(k)
	fmt.Println(string(r.Proof), ok, err)

	if err := s.Prune(12); err != nil {
		log.Fatal(err)
	}
	_, ok, err = s.Get(k)
	fmt.Println(ok, err)
	// Output:
	// proof true <nil>
	// false <nil>
}

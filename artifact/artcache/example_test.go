package artcache_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/artifact/artcache"
)

// store is a Source that holds its artifacts in a map, as a stand-in for
// the JetStream object store.
type store map[artifact.Digest][]byte

func (s store) Fetch(_ context.Context, d artifact.Digest) ([]byte, error) {
	fmt.Println("fetch", d.Short())
	return s[d], nil
}

func Example() {
	dir, err := os.MkdirTemp("", "artcache-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	key := artifact.New([]byte("a proving key"))
	src := store{key.Digest: key.Data}
	c, err := artcache.Open(artcache.Options{Dir: dir})
	if err != nil {
		log.Fatal(err)
	}
	for range 2 {
		a, err := c.Get(context.Background(), key.Digest, src)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: %q\n", a.Digest.Short(), a.Data)
	}
	s := c.Stats()
	fmt.Println("fetches", s.Fetches, "memory hits", s.MemHits, "on disk", s.DiskItems)
	// Output:
	// fetch 31c31296
	// 31c31296: "a proving key"
	// 31c31296: "a proving key"
	// fetches 1 memory hits 1 on disk 1
}

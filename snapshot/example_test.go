package snapshot_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/ethereum-optimism/optimism/cannon/mipsevm/multithreaded"
	"github.com/ethereum-optimism/optimism/cannon/mipsevm/versions"

	"github.com/proofd/proofd/snapshot"
)

func Example() {
	dir, err := os.MkdirTemp("", "snapshot-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	st := multithreaded.CreateEmptyState()
	st.Memory.SetWord(0x10000, 0x1234)
	st.Step = 42
	vs, err := versions.NewFromState(versions.GetCurrentVersion(), st)
	if err != nil {
		log.Fatal(err)
	}
	path := filepath.Join(dir, "state.snap")
	if err := snapshot.Write(path, vs, snapshot.Options{}); err != nil {
		log.Fatal(err)
	}

	// The claim comes from the header alone.
	info, err := snapshot.ReadInfo(path)
	if err != nil {
		log.Fatal(err)
	}
	_, claim := st.EncodeWitness()
	fmt.Println("step", info.Step, "pages", info.PageCount, "claim matches cannon:", info.Claim == claim)

	// Back to Cannon's own format, byte for byte.
	if err := snapshot.ToCannon(path, filepath.Join(dir, "state.bin.gz"), snapshot.Options{}); err != nil {
		log.Fatal(err)
	}
	fmt.Println(snapshot.Verify(path))
	// Output:
	// step 42 pages 1 claim matches cannon: true
	// <nil>
}

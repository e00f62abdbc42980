package atomicfile_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/proofd/proofd/atomicfile"
)

// A proving key and its verifying key are staged and fsynced together
// before either replaces its old version.
func ExampleWriteGroup() {
	dir, err := os.MkdirTemp("", "keys")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	pk, vk := filepath.Join(dir, "circuit.pk"), filepath.Join(dir, "circuit.vk")
	err = atomicfile.WriteGroup(atomicfile.OSFS{},
		atomicfile.Entry{Path: pk, Perm: 0o644, Fill: atomicfile.Data([]byte("proving key"))},
		atomicfile.Entry{Path: vk, Perm: 0o644, Fill: atomicfile.Data([]byte("verifying key"))})
	if err != nil {
		panic(err)
	}
	b, _ := os.ReadFile(vk)
	fmt.Println(string(b))
	// Output: verifying key
}

package snapshot

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/ethereum-optimism/optimism/cannon/mipsevm/multithreaded"
)

// FuzzReadCannon: no input makes ReadCannon panic or allocate past its
// ceiling; every error names the input and an offset; and a plain .bin it
// accepts is one Cannon's own decoder reads to the same claim.
func FuzzReadCannon(f *testing.F) {
	const limit = 256 * PageMemoryCost
	good := cannonBytes(f, testState(8, 6))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(good)
	zw.Close()
	huge := bytes.Clone(good)
	binary.BigEndian.PutUint64(huge[1:], 1<<40)
	f.Add(good)
	f.Add(gz.Bytes())
	f.Add(good[:len(good)/2])
	f.Add(huge)
	f.Add([]byte{byte(good[0])})
	f.Fuzz(func(t *testing.T, b []byte) {
		const name = "fuzz.bin"
		vs, err := ReadCannon(name, bytes.NewReader(b), int64(len(b)), Options{MaxMemoryBytes: limit})
		if err != nil {
			if !strings.Contains(err.Error(), name+": offset ") {
				t.Fatalf("error does not name the input and an offset: %v", err)
			}
			return
		}
		if n := vs.GetMemory().PageCount(); n > limit/PageMemoryCost {
			t.Fatalf("accepted %d pages under a ceiling of %d", n, limit/PageMemoryCost)
		}
		if bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
			return
		}
		ref := new(multithreaded.State)
		if err := ref.Deserialize(bytes.NewReader(b[1:])); err != nil {
			t.Fatalf("accepted a state Cannon rejects: %v", err)
		}
		_, got := vs.EncodeWitness()
		_, want := ref.EncodeWitness()
		if got != want {
			t.Fatalf("claim %x, Cannon's decoder gives %x", got, want)
		}
	})
}

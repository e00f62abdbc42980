package snapshot

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"path/filepath"
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

// TestConvertProgress: Progress sees the input bytes read grow to the
// input's size in both directions, and the outputs are the same as without it.
func TestConvertProgress(t *testing.T) {
	dir := t.TempDir()
	vs := testState(7, 300)
	for _, name := range []string{"in.bin", "in.bin.gz"} {
		in := cannonFile(t, dir, name, vs)
		snap := filepath.Join(dir, name+".snap")
		back := filepath.Join(dir, "back-"+name)
		for _, step := range [][2]string{{in, snap}, {snap, back}} {
			var seen []int64
			opts := Options{PagesPerChunk: 16, Progress: func(n int64) { seen = append(seen, n) }}
			if err := Convert(step[0], step[1], opts); err != nil {
				t.Fatal(err)
			}
			size := int64(len(readFile(t, step[0])))
			if len(seen) == 0 || seen[len(seen)-1] != size {
				t.Fatalf("convert %s: %d progress calls ending %v, want some ending at its size %d", step[0], len(seen), seen[len(seen)-1:], size)
			}
			for k := 1; k < len(seen); k++ {
				if seen[k] < seen[k-1] {
					t.Fatalf("convert %s: progress went back from %d to %d", step[0], seen[k-1], seen[k])
				}
			}
		}
		if !bytes.Equal(readFile(t, back), readFile(t, in)) {
			t.Errorf("%s: round trip with Progress is not byte-identical", name)
		}
	}
}

package snapshot

import (
	"github.com/klauspost/compress/zstd"

	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

var update = flag.Bool("update", false, "regenerate testdata/snapshot from testState")

const vectorDir = "../testdata/snapshot"

// vector is testdata/snapshot/vector.json: every value a reader in another
// language can check in vector.snap. 64-bit values are hex strings so that
// JSON parsers that use doubles do not round them.
type vector struct {
	Note         string        `json:"note"`
	File         string        `json:"file"`
	FileSize     int64         `json:"file_size"`
	CannonFile   string        `json:"cannon_file"`
	CannonSHA256 string        `json:"cannon_sha256"`
	Header       vectorHeader  `json:"header"`
	Chunks       []vectorChunk `json:"chunks"`
	Pages        []vectorPage  `json:"pages"`
	State        vectorSection `json:"state"`
	Index        vectorSection `json:"index"`
	FooterCRC32C string        `json:"footer_crc32c"`
}

type vectorHeader struct {
	FormatVersion uint16 `json:"format_version"`
	VMKind        uint8  `json:"vm_kind"`
	StateVersion  uint8  `json:"state_version"`
	PagesPerChunk uint32 `json:"pages_per_chunk"`
	Step          string `json:"step"`
	PageCount     uint64 `json:"page_count"`
	Claim         string `json:"claim"`
	MemoryRoot    string `json:"memory_root"`
	Witness       string `json:"witness"`
	CRC32C        string `json:"crc32c"`
}

type vectorChunk struct {
	Offset      uint64 `json:"offset"`
	FrameLength uint32 `json:"frame_length"`
	FrameCRC32C string `json:"frame_crc32c"`
	DataCRC32C  string `json:"data_crc32c"`
	Pages       int    `json:"pages"`
}

type vectorPage struct {
	Index   string `json:"index"`
	Address string `json:"address"`
	Chunk   int    `json:"chunk"`
	Root    string `json:"root"`
	SHA256  string `json:"sha256"`
}

type vectorSection struct {
	Offset uint64 `json:"offset"`
	Length uint64 `json:"length"`
	CRC32C string `json:"crc32c"`
}

func hex32(v uint32) string { return fmt.Sprintf("0x%08x", v) }

// describe decodes a snapshot into a vector with the package's own reader.
func describe(t *testing.T, path string) vector {
	t.Helper()
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.loadIndex(); err != nil {
		t.Fatal(err)
	}
	h := r.Header()
	raw := readFile(t, path)
	v := vector{
		Note:     "proofd snapshot format 1 test vector; see docs/snapshot-format.md",
		File:     filepath.Base(path),
		FileSize: r.size,
		Header: vectorHeader{
			FormatVersion: h.FormatVersion,
			VMKind:        uint8(h.Kind),
			StateVersion:  uint8(h.StateVersion),
			PagesPerChunk: h.PagesPerChunk,
			Step:          fmt.Sprintf("%#x", h.Step),
			PageCount:     h.PageCount,
			Claim:         h.Claim.Hex(),
			MemoryRoot:    h.MemoryRoot().Hex(),
			Witness:       fmt.Sprintf("0x%x", h.Witness),
			CRC32C:        hex32(binary.BigEndian.Uint32(raw[headerCRCAt:])),
		},
		State:        vectorSection{r.foot.stateOff, uint64(r.foot.stateLen), hex32(r.foot.stateCRC)},
		Index:        vectorSection{r.foot.indexOff, r.foot.indexLen, hex32(r.foot.indexCRC)},
		FooterCRC32C: hex32(binary.BigEndian.Uint32(raw[len(raw)-FooterSize+footerCRCAt:])),
	}
	for n, c := range r.chunks {
		v.Chunks = append(v.Chunks, vectorChunk{c.off, c.frameLen, hex32(c.frameCRC), hex32(c.dataCRC), h.pagesIn(uint64(n))})
	}
	for k, p := range r.pages.pages {
		data, err := r.ReadPage(p.index)
		if err != nil {
			t.Fatal(err)
		}
		v.Pages = append(v.Pages, vectorPage{
			Index:   fmt.Sprintf("%#x", p.index),
			Address: fmt.Sprintf("%#x", p.index*PageSize),
			Chunk:   k / int(h.PagesPerChunk),
			Root:    fmt.Sprintf("0x%x", p.root),
			SHA256:  fmt.Sprintf("%x", sha256.Sum256(data)),
		})
	}
	return v
}

// TestGoldenVector checks that the committed vector still decodes to the
// values its JSON lists, verifies, and converts to the committed Cannon file.
func TestGoldenVector(t *testing.T) {
	snap := filepath.Join(vectorDir, "vector.snap")
	bin := filepath.Join(vectorDir, "vector.bin")
	jsonPath := filepath.Join(vectorDir, "vector.json")
	if *update {
		vs := testState(42, 6)
		// The vector's bytes depend on the zstd level: pin it.
		if err := Write(snap, vs, Options{PagesPerChunk: 4, Level: zstd.SpeedFastest}); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bin, cannonBytes(t, vs), 0o644); err != nil {
			t.Fatal(err)
		}
		v := describe(t, snap)
		v.CannonFile = filepath.Base(bin)
		v.CannonSHA256 = fmt.Sprintf("%x", sha256.Sum256(readFile(t, bin)))
		b, _ := json.MarshalIndent(v, "", "  ")
		if err := os.WriteFile(jsonPath, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var want vector
	if err := json.Unmarshal(readFile(t, jsonPath), &want); err != nil {
		t.Fatal(err)
	}
	got := describe(t, snap)
	got.CannonFile, got.CannonSHA256 = want.CannonFile, fmt.Sprintf("%x", sha256.Sum256(readFile(t, bin)))
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", "  ")
		t.Fatalf("vector.snap decodes to\n%s\nwhich differs from vector.json (rerun with -update only for a deliberate format change)", g)
	}
	if err := Verify(snap); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out.bin")
	if err := ToCannon(snap, out, Options{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readFile(t, out), readFile(t, bin)) {
		t.Error("vector.snap does not convert to vector.bin")
	}
}

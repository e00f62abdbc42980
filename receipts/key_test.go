package receipts

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the current encoders")

func fill(b byte) (h [32]byte) {
	for i := range h {
		h[i] = b + byte(i)
	}
	return h
}

// goldenCases are fixed inputs whose encodings must never change silently.
func goldenCases() []struct {
	name string
	enc  []byte
} {
	tx := Key{Checkpoint: 0x0102030405060708, Block: fill(0x10), Kind: KindTx, Image: fill(0x40), Statement: fill(0x80), Index: 7}
	batch := Key{Checkpoint: 1, Block: fill(0x20), Kind: KindBatch, Image: fill(0x50), Statement: fill(0x90)}
	agg := Key{Checkpoint: 1 << 40, Block: fill(0x30), Kind: KindAggregate, Image: fill(0x60), Statement: fill(0xa0), Index: 1<<40 + 15}
	created := time.Unix(1700000000, 123456789)
	st := StatementDigest(Field{"public", []byte{1, 2, 3}}, Field{"config", []byte("depth=20")})
	return []struct {
		name string
		enc  []byte
	}{
		{"key-tx", tx.Encode()},
		{"key-batch", batch.Encode()},
		{"key-aggregate", agg.Encode()},
		{"statement", st[:]},
		{"statement-empty", func() []byte { d := StatementDigest(); return d[:] }()},
		{"value", encodeValue(fill(0x80), Receipt{Proof: []byte("proof bytes"), Public: []byte{0xde, 0xad}, Created: created})},
		{"value-empty", encodeValue([32]byte{}, Receipt{Created: time.Unix(0, 0)})},
	}
}

func TestGolden(t *testing.T) {
	var b strings.Builder
	for _, c := range goldenCases() {
		fmt.Fprintf(&b, "%s %x\n", c.name, c.enc)
	}
	path := filepath.Join("testdata", "golden")
	if *update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./receipts -run TestGolden -update to create it)", err)
	}
	if got := b.String(); got != string(want) {
		t.Errorf("encodings drifted from %s (a layout change needs a new version):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestKeyRoundTrip(t *testing.T) {
	for _, c := range goldenCases()[:3] {
		k, err := DecodeKey(c.enc)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := k.Encode(); !bytes.Equal(got, c.enc) {
			t.Errorf("%s: re-encoded %x, want %x", c.name, got, c.enc)
		}
	}
}

func TestKeyOrderIsCheckpointOrder(t *testing.T) {
	lo := Key{Checkpoint: 255, Block: fill(0xf0), Kind: KindAggregate, Index: ^uint64(0)}
	hi := Key{Checkpoint: 256, Kind: KindTx}
	if bytes.Compare(lo.Encode(), hi.Encode()) >= 0 {
		t.Errorf("key at checkpoint 255 sorts after one at 256")
	}
}

func TestDecodeKeyErrors(t *testing.T) {
	good := Key{Checkpoint: 3, Kind: KindTx}.Encode()
	badKind := bytes.Clone(good)
	badKind[offKind] = 9
	batchIndex := Key{Checkpoint: 3, Kind: KindBatch, Index: 2}.Encode()
	for _, c := range []struct {
		name string
		in   []byte
		want string
	}{
		{"short", good[:10], "10 bytes, want 113"},
		{"long", append(bytes.Clone(good), 0), "114 bytes, want 113"},
		{"kind", badKind, "kind 9 is not tx (1), batch (2) or aggregate (3)"},
		{"batch index", batchIndex, "batch key has index 2, want 0"},
	} {
		_, err := DecodeKey(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), fmt.Sprintf("%x", c.in)) {
			t.Errorf("%s: error %v, want one naming the input and %q", c.name, err, c.want)
		}
	}
}

func TestStatementDigestSeparatesFields(t *testing.T) {
	digests := map[[32]byte]string{}
	for name, fields := range map[string][]Field{
		"none":          nil,
		"ab|c":          {{"ab", []byte("c")}},
		"a|bc":          {{"a", []byte("bc")}},
		"two fields":    {{"a", nil}, {"b", nil}},
		"one field ab":  {{"ab", nil}},
		"empty name":    {{"", []byte("a")}},
		"swapped order": {{"b", nil}, {"a", nil}},
		"config 20":     {{"config", []byte("depth=20")}},
		"config 21":     {{"config", []byte("depth=21")}},
	} {
		d := StatementDigest(fields...)
		if other, dup := digests[d]; dup {
			t.Errorf("%s and %s have the same statement digest", name, other)
		}
		digests[d] = name
	}
}

func FuzzDecodeKey(f *testing.F) {
	for _, c := range goldenCases()[:3] {
		f.Add(c.enc)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := DecodeKey(b)
		if err != nil {
			return
		}
		if got := k.Encode(); !bytes.Equal(got, b) {
			t.Fatalf("DecodeKey(%x) re-encodes as %x", b, got)
		}
		k2, err := DecodeKey(k.Encode())
		if err != nil || k2 != k {
			t.Fatalf("round trip of %+v gave %+v, %v", k, k2, err)
		}
	})
}

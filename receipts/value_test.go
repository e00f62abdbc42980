package receipts

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"strings"
	"testing"
	"time"
)

func TestValueRoundTrip(t *testing.T) {
	want := Receipt{Proof: []byte("p"), Public: []byte("pub"), Created: time.Unix(5, 6)}
	st, got, err := decodeValue(encodeValue(fill(1), want))
	if err != nil {
		t.Fatal(err)
	}
	if st != fill(1) || !bytes.Equal(got.Proof, want.Proof) || !bytes.Equal(got.Public, want.Public) || !got.Created.Equal(want.Created) {
		t.Errorf("got %x %+v, want %x %+v", st, got, fill(1), want)
	}
}

// reseal recomputes the checksum so a test can reach the layout checks.
func reseal(b []byte) []byte {
	if len(b) >= valueHeaderLen {
		binary.BigEndian.PutUint32(b[1:], crc32.Checksum(b[valueHeaderLen:], castagnoli))
	}
	return b
}

func TestDecodeValueErrors(t *testing.T) {
	good := encodeValue(fill(1), Receipt{Proof: []byte("proof"), Public: []byte("pub"), Created: time.Unix(1, 0)})
	mut := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	for _, c := range []struct {
		name string
		in   []byte
		want string
	}{
		{"short", good[:10], "shorter than the 53-byte minimum"},
		{"version", mut(func(b []byte) []byte { b[0] = 2; return b }), "value version 2, want 1"},
		{"flipped bit", mut(func(b []byte) []byte { b[40] ^= 1; return b }), "checksum"},
		{"proof length", mut(func(b []byte) []byte { binary.BigEndian.PutUint32(b[37:], 1<<31); return reseal(b) }), "proof length 2147483648 exceeds"},
		{"public length", mut(func(b []byte) []byte { binary.BigEndian.PutUint32(b[46:], 1<<30); return reseal(b) }), "public inputs length 1073741824 exceeds"},
		{"trailing", reseal(append(bytes.Clone(good), 0)), "9 bytes after the public inputs"},
	} {
		_, _, err := decodeValue(c.in)
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want ErrCorrupt saying %q", c.name, err, c.want)
		}
	}
}

func FuzzDecodeValue(f *testing.F) {
	for _, c := range goldenCases()[5:] {
		f.Add(c.enc, false)
	}
	f.Add([]byte{1, 0, 0, 0, 0}, true)
	f.Fuzz(func(t *testing.T, b []byte, fixChecksum bool) {
		if fixChecksum {
			// Reach the length checks behind the checksum.
			b = reseal(bytes.Clone(b))
		}
		var st [32]byte
		var r Receipt
		var err error
		allocs := testing.AllocsPerRun(1, func() { st, r, err = decodeValue(b) })
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if allocs != 0 {
			t.Fatalf("decoding a valid value allocated %v times", allocs)
		}
		if got := len(r.Proof) + len(r.Public) + valueMinLen; got != len(b) {
			t.Fatalf("decoded %d bytes of fields from a %d-byte value", got, len(b))
		}
		if again := encodeValue(st, r); !bytes.Equal(again, b) {
			t.Fatalf("re-encoded %x, want %x", again, b)
		}
	})
}

package gnarkio

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
)

// A vector whose declared length is far beyond its bytes is refused before
// gnark-crypto allocates for it; a good one decodes; trailing bytes are an
// error.
func TestReadAll(t *testing.T) {
	v := fr.Vector{fr.NewElement(1), fr.NewElement(2)}
	var buf bytes.Buffer
	if _, err := v.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	var got fr.Vector
	if err := ReadAll(&got, buf.Bytes()); err != nil || len(got) != 2 {
		t.Fatalf("ReadAll of a good vector: %v, %d elements", err, len(got))
	}
	if err := ReadAll(&got, append(buf.Bytes(), 0)); err == nil || !strings.Contains(err.Error(), "trailing") {
		t.Fatalf("trailing byte: %v", err)
	}
	bomb := binary.BigEndian.AppendUint32(nil, 1<<30)
	if err := ReadAll(&got, bomb); err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Fatalf("a 2^30-element length in 4 bytes: %v", err)
	}
}

package noirfile

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestReadsTheFixtures(t *testing.T) {
	for _, name := range []string{"tiny", "hashchain"} {
		dir := filepath.Join("..", "..", "testdata", "noir", name)
		acir, err := Circuit(filepath.Join(dir, "circuit.json"))
		if err != nil || len(acir) == 0 {
			t.Fatalf("%s: %v", name, err)
		}
		w, err := Witness(filepath.Join(dir, "witness.gz"))
		if err != nil || len(w) == 0 {
			t.Fatalf("%s witness: %v", name, err)
		}
	}
}

func TestBadInputIsNamed(t *testing.T) {
	bomb := gz(make([]byte, MaxGunzipped+1)) // ~256 KiB that gunzips past the limit
	for _, c := range []struct {
		artifact string
		says     string
	}{
		{`{"bytecode": 12}`, "not a Noir artifact"},
		{`{"abi": {}}`, `no "bytecode"`},
		{`{"bytecode": "%%%"}`, "not base64"},
		{`{"bytecode": "` + base64.StdEncoding.EncodeToString([]byte("plain")) + `"}`, "not gzip"},
		{`{"bytecode": "` + base64.StdEncoding.EncodeToString(bomb) + `"}`, "over 256 MiB"},
	} {
		if _, err := CircuitBytes("x.json", []byte(c.artifact)); err == nil || !strings.Contains(err.Error(), c.says) || !strings.Contains(err.Error(), "x.json") {
			t.Errorf("%.40q: %v, want an error naming x.json and %q", c.artifact, err, c.says)
		}
	}
	path := filepath.Join(t.TempDir(), "w.gz")
	os.WriteFile(path, bomb, 0o600)
	if _, err := Witness(path); err == nil || !strings.Contains(err.Error(), "w.gz") {
		t.Errorf("a witness gzip bomb: %v", err)
	}
	if _, err := Circuit(filepath.Join(t.TempDir(), "missing.json")); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("a missing circuit: %v", err)
	}
}

func FuzzCircuitBytes(f *testing.F) {
	f.Add([]byte(`{"bytecode": "H4sIAAAAAAAA/wMAAAAAAAAAAAA="}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		CircuitBytes("fuzz", b) // no panic, bounded output
	})
}

func TestArtifactRoundTrips(t *testing.T) {
	acir, err := Circuit(filepath.Join("..", "..", "testdata", "noir", "tiny", "circuit.json"))
	if err != nil {
		t.Fatal(err)
	}
	art, err := Artifact(acir)
	if err != nil {
		t.Fatal(err)
	}
	back, err := CircuitBytes("wrapped", art)
	if err != nil || !bytes.Equal(back, acir) {
		t.Fatalf("Artifact then CircuitBytes: %v, equal %v", err, bytes.Equal(back, acir))
	}
	w, err := Gzip([]byte("witness"))
	if err != nil {
		t.Fatal(err)
	}
	if back, err := Gunzip(w); err != nil || string(back) != "witness" {
		t.Fatalf("Gzip then Gunzip = %q, %v", back, err)
	}
}

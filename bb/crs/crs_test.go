package crs

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// committed is the CRS the repository carries; sharedArkworks is the
// arkworks file it was converted from, present only on machines that have
// the shared directory.
const (
	committed      = FileName
	committedSHA   = "d769ac6c98f8fab858a7e9967f2b7f181d8ad9fdcdf55438c915696febf0e99c"
	sharedArkworks = "../../../shared/bb/kzg10-bn254-aztec-srs-32768.bin"
)

func readCommitted(t *testing.T) []byte {
	t.Helper()
	g1, err := os.ReadFile(committed)
	if err != nil {
		t.Fatal(err)
	}
	if len(g1) != Points*PointSize {
		t.Fatalf("%s: %d bytes, want %d (is it a git-lfs pointer?)", committed, len(g1), Points*PointSize)
	}
	return g1
}

func TestCommittedCRS(t *testing.T) {
	g1 := readCommitted(t)
	sum := sha256.Sum256(g1)
	if got := hex.EncodeToString(sum[:]); got != committedSHA {
		t.Errorf("%s: sha256 %s, want %s", committed, got, committedSHA)
	}
	start := time.Now()
	if err := Check(g1); err != nil {
		t.Fatal(err)
	}
	t.Logf("Check of %d points took %v", Points, time.Since(start))
}

func TestConvertSharedFile(t *testing.T) {
	src, err := os.ReadFile(sharedArkworks)
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("%s not present", sharedArkworks)
	}
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(src)
	if got := hex.EncodeToString(sum[:]); got != ArkworksSHA256 {
		t.Fatalf("%s: sha256 %s, want %s", sharedArkworks, got, ArkworksSHA256)
	}
	g1, err := ConvertArkworks(src)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(g1, readCommitted(t)) {
		t.Fatal("converting the shared file does not give the committed CRS")
	}
}

func TestCheckRejects(t *testing.T) {
	good := readCommitted(t)
	// A small prefix keeps this fast; it passes Check as it is.
	prefix := good[:64*PointSize]
	if err := Check(prefix); err != nil {
		t.Fatalf("prefix: %v", err)
	}
	mutate := func(f func(b []byte) []byte) []byte {
		return f(append([]byte(nil), prefix...))
	}
	cases := []struct {
		name string
		g1   []byte
		want string
	}{
		{"partial point", prefix[:len(prefix)-1], "whole number"},
		{"one point", prefix[:PointSize], "at least 2"},
		{"off the curve", mutate(func(b []byte) []byte { b[40*PointSize+63] ^= 1; return b }), "point 40 is not on the curve"},
		{"non-canonical", mutate(func(b []byte) []byte { b[5*PointSize] = 0xff; return b }), "point 5 x"},
		{"infinity", mutate(func(b []byte) []byte { clear(b[7*PointSize : 8*PointSize]); return b }), "point 7 is the point at infinity"},
		{"not the generator", mutate(func(b []byte) []byte { copy(b, b[2*PointSize:3*PointSize]); return b }), "generator"},
		{"not bb's tau", mutate(func(b []byte) []byte { copy(b[PointSize:], b[2*PointSize:3*PointSize]); return b }), "point 1"},
		// Points 20 and 21 swapped: every point is valid, the powers are not successive.
		{"swapped powers", mutate(func(b []byte) []byte {
			p20 := append([]byte(nil), b[20*PointSize:21*PointSize]...)
			copy(b[20*PointSize:], b[21*PointSize:22*PointSize])
			copy(b[21*PointSize:], p20)
			return b
		}), "pairing check failed"},
	}
	for _, c := range cases {
		err := Check(c.g1)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.name, err, c.want)
		}
	}
}

func TestConvertArkworksRejects(t *testing.T) {
	point := func(x, y byte, flags byte) []byte {
		p := make([]byte, PointSize)
		p[0], p[32] = x, y
		p[63] |= flags
		return p
	}
	file := func(count byte, points ...[]byte) []byte {
		b := []byte{count, 0, 0, 0, 0, 0, 0, 0}
		for _, p := range points {
			b = append(b, p...)
		}
		return b
	}
	got, err := ConvertArkworks(file(1, point(1, 2, 1<<7)))
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, PointSize)
	want[31], want[63] = 1, 2
	if !bytes.Equal(got, want) {
		t.Errorf("flags not cleared or wrong byte order: %x", got)
	}
	for name, src := range map[string][]byte{
		"short":     {1, 0},
		"truncated": file(2, point(1, 2, 0)),
		"infinity":  file(1, point(0, 0, 1<<6)),
		"non-canonical": file(1, func() []byte {
			p := point(1, 2, 0)
			for i := 0; i < 32; i++ {
				p[i] = 0xff
			}
			p[31] = 0x3f // below the flag bits, above the modulus
			return p
		}()),
	} {
		if _, err := ConvertArkworks(src); err == nil {
			t.Errorf("%s: converted", name)
		}
	}
}

func TestTauG2LimbOrder(t *testing.T) {
	if _, err := g2FromLimbs(bbTauG2Limbs, false); err != nil {
		t.Errorf("c0 first: %v", err)
	}
	if _, err := g2FromLimbs(bbTauG2Limbs, true); err == nil {
		t.Error("c1 first also gives a point in the G2 subgroup; the limb order is ambiguous")
	}
}

func TestWriteDirCopiesTheEmbeddedCRS(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "crs")
	if err := WriteDir(dst); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dst, FileName))
	if err != nil || !bytes.Equal(got, readCommitted(t)) || !bytes.Equal(Committed, got) {
		t.Fatalf("WriteDir: %v, or the copy differs from bb/crs/%s", err, FileName)
	}
}

func TestPrepareDir(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "crs")
	for i := 0; i < 2; i++ { // a second call replaces the file
		if err := PrepareDir(dst, committed); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(filepath.Join(dst, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, readCommitted(t)) {
		t.Fatal("copy differs from the source")
	}
	// bb writes crs.lock there; the copy must not be the source file.
	if err := os.WriteFile(filepath.Join(dst, "crs.lock"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	a, _ := os.Stat(filepath.Join(dst, FileName))
	b, _ := os.Stat(committed)
	if os.SameFile(a, b) {
		t.Fatal("PrepareDir linked the source instead of copying it")
	}
	entries, _ := os.ReadDir(dst)
	if len(entries) != 2 {
		t.Errorf("dst holds %d entries, want bn254_g1.dat and crs.lock (a leftover temp file?)", len(entries))
	}
}

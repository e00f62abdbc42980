package crs

import (
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254"
	"github.com/consensys/gnark-crypto/ecc/bn254/fp"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
)

const (
	// FileName is the name bb looks for in its CRS directory.
	FileName = "bn254_g1.dat"
	// PointSize is the size of one point in bb's layout.
	PointSize = 64
	// Points is the number of points in the committed CRS.
	Points = 32769
	// MaxDyadicSize is the largest circuit (bb's dyadic size, in gates)
	// the committed CRS serves.
	MaxDyadicSize = 1 << 15
	// ArkworksSHA256 is the sha256 of the arkworks file the committed CRS
	// is converted from (see the package doc).
	ArkworksSHA256 = "adfc7e882e487656ce92f4a0542a74c4c92022497fd6e29d70d22e74f5a229fe"
)

// bb's compiled-in second point, tau·G1.
const (
	bbG1x = "0x2d360628289ff943ff6bd1a87bbe4e62abe7fb61ba83effd266f22bdcf31e6f9"
	bbG1y = "0x26b92a79e563c3f48252cce7feeca2f0f8d33dcb4ef7b0643bf07bd405700aaa"
)

// bb's compiled-in tau·G2 as four 32-byte big-endian limbs, in the order of
// its bn254_g2.dat: x.c0, x.c1, y.c0, y.c1 (the other order, c1 first, is
// not on the twist or in the G2 subgroup; TestTauG2LimbOrder checks both).
var bbTauG2Limbs = [4]string{
	"0x0118c4d5b837bcc2bc89b5b398b5974e9f5944073b32078b7e231fec938883b0",
	"0x260e01b251f6f1c7e7ff4e580791dee8ea51d87a358e038b4efe30fac09383c1",
	"0x22febda3c0c0632a56475b4214e5615e11e6dd3f96e6cea2854a87d4dacc5e55",
	"0x04fc6369f7110fe3d25156c1bb9a72859cf2a04641f99ba4ee413c80da6a5fe4",
}

// Arkworks flag bits, in the top bits of the last (little-endian) byte of y.
const (
	arkInfinity = 1 << 6
	arkFlags    = 1<<7 | 1<<6
)

// ConvertArkworks converts an arkworks-serialized KZG10 UniversalParams
// (uncompressed: a u64 little-endian count, then that many G1 points, x then
// y as 32-byte little-endian field elements with flags in the top bits of
// y's last byte, then G2 data, which is ignored) to bb's bn254_g1.dat.
func ConvertArkworks(src []byte) ([]byte, error) {
	if len(src) < 8 {
		return nil, errors.New("crs: arkworks file shorter than its 8-byte count")
	}
	count := binary.LittleEndian.Uint64(src[:8])
	body := src[8:]
	if count == 0 || count > uint64(len(body))/PointSize {
		return nil, fmt.Errorf("crs: arkworks file claims %d points but holds at most %d", count, len(body)/PointSize)
	}
	out := make([]byte, int(count)*PointSize)
	for i := 0; i < int(count); i++ {
		in := body[i*PointSize : (i+1)*PointSize]
		x := reversed(in[:32])
		y := reversed(in[32:])
		// y was little-endian, so its last byte is now y[0].
		if y[0]&arkInfinity != 0 {
			return nil, fmt.Errorf("crs: point %d is the point at infinity", i)
		}
		y[0] &^= arkFlags
		for _, c := range [][]byte{x, y} {
			var e fp.Element
			if err := e.SetBytesCanonical(c); err != nil {
				return nil, fmt.Errorf("crs: point %d: %w", i, err)
			}
		}
		copy(out[i*PointSize:], x)
		copy(out[i*PointSize+32:], y)
	}
	return out, nil
}

func reversed(b []byte) []byte {
	r := make([]byte, len(b))
	for i, v := range b {
		r[len(b)-1-i] = v
	}
	return r
}

// Parse reads points in bb's layout. It checks that each coordinate is a
// canonical field element, not that the points are on the curve (Check
// does).
func Parse(g1 []byte) ([]bn254.G1Affine, error) {
	if len(g1)%PointSize != 0 {
		return nil, fmt.Errorf("crs: %d bytes is not a whole number of %d-byte points", len(g1), PointSize)
	}
	points := make([]bn254.G1Affine, len(g1)/PointSize)
	for i := range points {
		p := g1[i*PointSize : (i+1)*PointSize]
		if err := points[i].X.SetBytesCanonical(p[:32]); err != nil {
			return nil, fmt.Errorf("crs: point %d x: %w", i, err)
		}
		if err := points[i].Y.SetBytesCanonical(p[32:]); err != nil {
			return nil, fmt.Errorf("crs: point %d y: %w", i, err)
		}
	}
	return points, nil
}

// Check verifies a CRS in bb's layout; see the package doc for what it
// checks.
func Check(g1 []byte) error {
	points, err := Parse(g1)
	if err != nil {
		return err
	}
	if len(points) < 2 {
		return fmt.Errorf("crs: %d points, need at least 2", len(points))
	}
	for i := range points {
		p := &points[i]
		if p.IsInfinity() {
			return fmt.Errorf("crs: point %d is the point at infinity", i)
		}
		if !p.IsOnCurve() {
			return fmt.Errorf("crs: point %d is not on the curve", i)
		}
		if !p.IsInSubGroup() {
			return fmt.Errorf("crs: point %d is not in the G1 subgroup", i)
		}
	}
	_, _, gen, g2 := bn254.Generators()
	if !points[0].Equal(&gen) {
		return errors.New("crs: point 0 is not the BN254 generator (1, 2)")
	}
	second := g1Point(bbG1x, bbG1y)
	if !points[1].Equal(&second) {
		return errors.New("crs: point 1 is not bb's compiled-in tau·G1")
	}
	tauG2, err := TauG2()
	if err != nil {
		return err
	}

	// g1[i+1] = tau·g1[i] for all i, checked at once:
	// e(Σ r_i·g1[i+1], G2) · e(-Σ r_i·g1[i], tau·G2) = 1.
	// The r_i come from crypto/rand (fr.Element.SetRandom).
	n := len(points) - 1
	r := make([]fr.Element, n)
	for i := range r {
		if _, err := r[i].SetRandom(); err != nil {
			return fmt.Errorf("crs: random scalars: %w", err)
		}
	}
	var next, prev bn254.G1Affine
	if _, err := next.MultiExp(points[1:], r, ecc.MultiExpConfig{}); err != nil {
		return fmt.Errorf("crs: %w", err)
	}
	if _, err := prev.MultiExp(points[:n], r, ecc.MultiExpConfig{}); err != nil {
		return fmt.Errorf("crs: %w", err)
	}
	prev.Neg(&prev)
	ok, err := bn254.PairingCheck([]bn254.G1Affine{next, prev}, []bn254.G2Affine{g2, tauG2})
	if err != nil {
		return fmt.Errorf("crs: pairing: %w", err)
	}
	if !ok {
		return errors.New("crs: the points are not successive powers of bb's tau (pairing check failed)")
	}
	return nil
}

// CheckFile runs Check on a bn254_g1.dat file.
func CheckFile(path string) error {
	g1, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := Check(g1); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// TauG2 returns bb's compiled-in tau·G2, checked to be on the twist and in
// the G2 subgroup.
func TauG2() (bn254.G2Affine, error) {
	return g2FromLimbs(bbTauG2Limbs, false)
}

// g2FromLimbs builds a G2 point from four limbs, read as
// (x.c1, x.c0, y.c1, y.c0) when c1First, else (x.c0, x.c1, y.c0, y.c1), and
// checks that it is in the G2 subgroup.
func g2FromLimbs(limbs [4]string, c1First bool) (bn254.G2Affine, error) {
	var p bn254.G2Affine
	e := make([]fp.Element, 4)
	for i, l := range limbs {
		e[i] = fpHex(l)
	}
	if c1First {
		p.X.A1, p.X.A0, p.Y.A1, p.Y.A0 = e[0], e[1], e[2], e[3]
	} else {
		p.X.A0, p.X.A1, p.Y.A0, p.Y.A1 = e[0], e[1], e[2], e[3]
	}
	if !p.IsOnCurve() || !p.IsInSubGroup() {
		return p, errors.New("crs: bb's tau·G2 limbs do not give a point in the G2 subgroup")
	}
	return p, nil
}

func g1Point(x, y string) bn254.G1Affine {
	return bn254.G1Affine{X: fpHex(x), Y: fpHex(y)}
}

// fpHex parses a constant of this file; a bad one is a programming error.
func fpHex(s string) fp.Element {
	v, ok := new(big.Int).SetString(s, 0)
	if !ok {
		panic("crs: bad constant " + s)
	}
	var e fp.Element
	e.SetBigInt(v)
	return e
}

// PrepareDir makes dst a CRS directory for one bb process: it creates dst
// and copies src (a bn254_g1.dat) to dst/bn254_g1.dat, replacing any file
// there. bb writes crs.lock in dst, so dst must be writable and should not
// be shared by bb processes that may run at once. It copies rather than
// hard-links (2 MB, about a millisecond): a bb with network access that
// downloads more points presumably rewrites bn254_g1.dat (not observed
// here, offline), and through a hard link that would rewrite src.
func PrepareDir(dst, src string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	return copyFile(filepath.Join(dst, FileName), src)
}

// Committed is the CRS the repository carries (bb/crs/bn254_g1.dat),
// embedded in the binary so an engine needs no file beside it.
//
//go:embed bn254_g1.dat
var Committed []byte

// WriteDir gives a bb process its own CRS directory: dst holding a copy of
// Committed (see PrepareDir for why a copy).
func WriteDir(dst string) error {
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dst, ".crs-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	if _, err := tmp.Write(Committed); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(dst, FileName))
}

// copyFile writes src to dst through a temporary file in dst's directory,
// so a reader never sees a partial dst.
func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".crs-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}

// Command convert regenerates bb/crs/bn254_g1.dat, bb's CRS, from
// the arkworks-serialized Ignition prefix (see package bb/crs). Run it from
// the repository root:
//
//	go run ./bb/crs/cmd/convert -in ../shared/bb/kzg10-bn254-aztec-srs-32768.bin
//
// It refuses an input whose sha256 is not the pinned one and checks the
// output with crs.Check before writing it.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/proofd/proofd/bb/crs"
)

func main() {
	in := flag.String("in", "../shared/bb/kzg10-bn254-aztec-srs-32768.bin", "arkworks KZG10 parameters (Ignition prefix)")
	out := flag.String("out", "bb/crs/"+crs.FileName, "bb's bn254_g1.dat to write")
	flag.Parse()
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "convert:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	src, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(src)
	if got := hex.EncodeToString(sum[:]); got != crs.ArkworksSHA256 {
		return fmt.Errorf("%s: sha256 %s, want %s", in, got, crs.ArkworksSHA256)
	}
	g1, err := crs.ConvertArkworks(src)
	if err != nil {
		return err
	}
	if err := crs.Check(g1); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(out, g1, 0o644); err != nil {
		return err
	}
	sum = sha256.Sum256(g1)
	fmt.Printf("%s: %d points, sha256 %s\n", out, len(g1)/crs.PointSize, hex.EncodeToString(sum[:]))
	return nil
}

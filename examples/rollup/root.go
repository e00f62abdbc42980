package rollup

import (
	"fmt"
	"math/big"

	"github.com/consensys/gnark-crypto/ecc"
)

// Root is a BLS12-377 scalar-field element, big-endian, canonical (< r).
type Root = [32]byte

// rModulus is BLS12-377's scalar-field modulus r, the field of every root.
var rModulus = ecc.BLS12_377.ScalarField()

// rootOf encodes x, which must be in [0, r).
func rootOf(x *big.Int) Root {
	var r Root
	x.FillBytes(r[:])
	return r
}

// rootInt is r as an integer, with no range check.
func rootInt(r Root) *big.Int { return new(big.Int).SetBytes(r[:]) }

// checkRoot reports a root that is not a canonical BLS12-377 scalar, naming it.
func checkRoot(name string, r Root) error {
	if rootInt(r).Cmp(rModulus) >= 0 {
		return fmt.Errorf("%s %x is not below the BLS12-377 scalar modulus", name, r[:])
	}
	return nil
}

package circuits

import (
	"fmt"
	"hash"
	"math/big"
	"slices"

	"github.com/consensys/gnark-crypto/ecc"
	gchash "github.com/consensys/gnark-crypto/hash"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/frontend/cs/r1cs"
	"github.com/consensys/gnark/std/hash/mimc"

	// Register the native MiMC implementations that match std/hash/mimc.
	_ "github.com/consensys/gnark-crypto/ecc/bls12-377/fr/mimc"
	_ "github.com/consensys/gnark-crypto/ecc/bn254/fr/mimc"
	_ "github.com/consensys/gnark-crypto/ecc/bw6-761/fr/mimc"
)

// mimcSeed is the fixed secret preimage of every chain we build.
const mimcSeed = 0x5eed

// mimcChain proves knowledge of Seed such that MiMC applied n times to Seed
// gives Out.
type mimcChain struct {
	Seed frontend.Variable
	Out  frontend.Variable `gnark:",public"`

	n int `gnark:"-"`
}

func (c *mimcChain) Define(api frontend.API) error {
	h, err := mimc.NewMiMC(api)
	if err != nil {
		return err
	}
	x := c.Seed
	for range c.n {
		// Reset so each step hashes exactly one element from the zero state,
		// which is what the native chain computes.
		h.Reset()
		h.Write(x)
		x = h.Sum()
	}
	api.AssertIsEqual(x, c.Out)
	return nil
}

func mimcExample(size int, curve ecc.ID) (frontend.Circuit, frontend.Circuit, error) {
	h, err := newHasher(curve)
	if err != nil {
		return nil, nil, err
	}
	return &mimcChain{n: size}, &mimcChain{Seed: mimcSeed, Out: h.chain(big.NewInt(mimcSeed), size)}, nil
}

// SizeForConstraints returns the mimc chain length whose R1CS on curve has
// about n constraints (at least 1). It returns 0 if the mimc example does not
// support curve.
func SizeForConstraints(curve ecc.ID, n int) int {
	if !slices.Contains(mimcCurves, curve) {
		return 0
	}
	// Measure instead of hard-coding: the per-hash cost depends on the curve's
	// MiMC exponent and round count, and may change across gnark versions.
	c1, err1 := mimcConstraints(curve, 1)
	c2, err2 := mimcConstraints(curve, 2)
	if err1 != nil || err2 != nil || c2 <= c1 {
		return 0
	}
	perHash := c2 - c1
	fixed := c1 - perHash
	return max(1, (n-fixed+perHash/2)/perHash)
}

func mimcConstraints(curve ecc.ID, size int) (int, error) {
	ccs, err := frontend.Compile(curve.ScalarField(), r1cs.NewBuilder, &mimcChain{n: size})
	if err != nil {
		return 0, err
	}
	return ccs.GetNbConstraints(), nil
}

// hasher is gnark-crypto's native MiMC for one curve, used to compute
// witnesses that agree with std/hash/mimc in-circuit.
type hasher struct {
	h       hash.Hash
	modulus *big.Int
	buf     []byte
}

func newHasher(curve ecc.ID) (*hasher, error) {
	ids := map[ecc.ID]gchash.Hash{
		ecc.BN254:     gchash.MIMC_BN254,
		ecc.BLS12_377: gchash.MIMC_BLS12_377,
		ecc.BW6_761:   gchash.MIMC_BW6_761,
	}
	id, ok := ids[curve]
	if !ok {
		return nil, fmt.Errorf("no native mimc for curve %s", curve)
	}
	h := id.New()
	return &hasher{h: h, modulus: curve.ScalarField(), buf: make([]byte, h.BlockSize())}, nil
}

// sum hashes xs as field elements, matching MiMC.Write(xs...); Sum() in-circuit.
func (h *hasher) sum(xs ...*big.Int) *big.Int {
	h.h.Reset()
	var x big.Int
	for _, v := range xs {
		x.Mod(v, h.modulus)
		// Write only fails on non-canonical or short blocks; x is reduced
		// and padded to the block size.
		if _, err := h.h.Write(x.FillBytes(h.buf)); err != nil {
			panic(fmt.Sprintf("mimc write: %v", err))
		}
	}
	return new(big.Int).SetBytes(h.h.Sum(nil))
}

// chain applies MiMC n times to seed.
func (h *hasher) chain(seed *big.Int, n int) *big.Int {
	x := seed
	for range n {
		x = h.sum(x)
	}
	return x
}

package rollup

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/proofd/proofd/examples/circuits"
)

// Defaults and bounds of Params.
const (
	DefaultDepth       = 8
	DefaultTxsPerBlock = 2
	DefaultBundleSize  = 4

	MaxDepth       = circuits.MaxTransferDepth // 32
	MaxTxsPerBlock = 16
	MaxBundleSize  = 64
)

// Params shape every circuit and go into every statement.
type Params struct {
	Depth       int // balance tree depth (default 8, 1..32)
	TxsPerBlock int // transactions per block, fixed by the batch circuit (default 2, 1..16)
	BundleSize  int // batches per aggregate proof (default 4, 1..64)
}

// EnsureDefaults sets every zero field to its default and returns p.
func (p *Params) EnsureDefaults() *Params {
	if p.Depth == 0 {
		p.Depth = DefaultDepth
	}
	if p.TxsPerBlock == 0 {
		p.TxsPerBlock = DefaultTxsPerBlock
	}
	if p.BundleSize == 0 {
		p.BundleSize = DefaultBundleSize
	}
	return p
}

// Validate reports every field out of range at once. Zero fields are
// violations: call EnsureDefaults first.
func (p *Params) Validate() error {
	var errs []error
	check := func(name string, v, lo, hi int) {
		if v < lo || v > hi {
			errs = append(errs, fmt.Errorf("rollup params: %s %d out of range %d..%d", name, v, lo, hi))
		}
	}
	check("Depth", p.Depth, 1, MaxDepth)
	check("TxsPerBlock", p.TxsPerBlock, 1, MaxTxsPerBlock)
	check("BundleSize", p.BundleSize, 1, MaxBundleSize)
	return errors.Join(errs...)
}

// paramsDomain separates params digests from every other SHA-256 use.
const paramsDomain = "proofd/rollup/params/v1"

// Digest is SHA-256 over a domain tag and the fields with defaults applied
// (so a zero Params and the explicit defaults shape, and digest, alike).
func (p Params) Digest() [32]byte {
	p.EnsureDefaults()
	h := sha256.New()
	h.Write([]byte(paramsDomain))
	var b [8]byte
	for _, v := range []int{p.Depth, p.TxsPerBlock, p.BundleSize} {
		binary.BigEndian.PutUint64(b[:], uint64(v))
		h.Write(b[:])
	}
	var d [32]byte
	h.Sum(d[:0])
	return d
}

// checked is p with defaults applied, or every violation.
func checked(p Params) (Params, error) {
	p.EnsureDefaults()
	if err := p.Validate(); err != nil {
		return p, err
	}
	return p, nil
}

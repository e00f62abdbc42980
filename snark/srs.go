package snark

import (
	"bytes"
	"fmt"

	"github.com/consensys/gnark-crypto/ecc"
	kzgbls12377 "github.com/consensys/gnark-crypto/ecc/bls12-377/kzg"
	kzgbn254 "github.com/consensys/gnark-crypto/ecc/bn254/kzg"
	kzgbw6761 "github.com/consensys/gnark-crypto/ecc/bw6-761/kzg"
	"github.com/consensys/gnark-crypto/kzg"
	"github.com/consensys/gnark/backend/plonk"
	"github.com/consensys/gnark/test/unsafekzg"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/engine/host"
	"github.com/proofd/proofd/internal/gnarkio"
)

// DevSRSSeed derives the development SRS. Its toxic waste is public: anyone
// can forge proofs for keys made from it.
const DevSRSSeed = "proofd insecure development SRS; never use for anything of value"

// DevSRSWarning is returned with every setup that used the development SRS.
const DevSRSWarning = "INSECURE: these PLONK keys come from the development SRS, whose toxic waste is public; proofs made with them can be forged. Use --srs with a ceremony SRS for anything of value."

// srsFor returns the canonical and Lagrange SRS for PLONK setup of c.
func (s *server) srsFor(l *host.Lease, c *circuit, ds []artifact.Digest, dev bool) (kzg.SRS, kzg.SRS, []string, error) {
	if dev {
		if len(ds) > 1 {
			return nil, nil, nil, host.BadInput("srs", "give an SRS or ask for the development SRS, not both")
		}
		canonical, lagrange, err := unsafekzg.NewSRS(c.cs, unsafekzg.WithToxicSeed([]byte(DevSRSSeed)))
		if err != nil {
			return nil, nil, nil, fmt.Errorf("development srs: %w", err)
		}
		return canonical, lagrange, []string{DevSRSWarning}, nil
	}
	if len(ds) < 2 {
		return nil, nil, nil, host.BadInput("srs", "PLONK setup needs a KZG SRS (--srs FILE) or the insecure development SRS (--dev-srs)")
	}
	_, sizeLagrange := plonk.SRSSize(c.cs)
	key := fmt.Sprintf("srs/%s/%d", c.curve, sizeLagrange)
	v, missing, err := l.Decoded(ds[1], key, func(b []byte) (any, error) {
		return decodeSRS(b, c.curve, sizeLagrange)
	})
	if missing {
		return nil, nil, nil, host.Missing(ds[1])
	}
	if err != nil {
		return nil, nil, nil, host.InputStatus("srs", err)
	}
	pair := v.([2]kzg.SRS)
	return pair[0], pair[1], nil, nil
}

// decodeSRS reads a canonical KZG SRS (gnark-crypto's kzg.SRS encoding) for
// curve, checks it is large enough, and derives the Lagrange form.
func decodeSRS(b []byte, curve ecc.ID, sizeLagrange int) (any, error) {
	need := sizeLagrange + 3
	short := func(have int) error {
		return fmt.Errorf("the SRS has %d G1 points, this circuit needs %d", have, need)
	}
	switch curve {
	case ecc.BN254:
		var srs kzgbn254.SRS
		if err := gnarkio.ReadAll(&srs, b); err != nil {
			return nil, fmt.Errorf("not a bn254 KZG SRS: %v", err)
		}
		if len(srs.Pk.G1) < need {
			return nil, short(len(srs.Pk.G1))
		}
		lag, err := kzgbn254.ToLagrangeG1(srs.Pk.G1[:sizeLagrange])
		if err != nil {
			return nil, err
		}
		return [2]kzg.SRS{&srs, &kzgbn254.SRS{Pk: kzgbn254.ProvingKey{G1: lag}, Vk: srs.Vk}}, nil
	case ecc.BLS12_377:
		var srs kzgbls12377.SRS
		if err := gnarkio.ReadAll(&srs, b); err != nil {
			return nil, fmt.Errorf("not a bls12-377 KZG SRS: %v", err)
		}
		if len(srs.Pk.G1) < need {
			return nil, short(len(srs.Pk.G1))
		}
		lag, err := kzgbls12377.ToLagrangeG1(srs.Pk.G1[:sizeLagrange])
		if err != nil {
			return nil, err
		}
		return [2]kzg.SRS{&srs, &kzgbls12377.SRS{Pk: kzgbls12377.ProvingKey{G1: lag}, Vk: srs.Vk}}, nil
	case ecc.BW6_761:
		var srs kzgbw6761.SRS
		if err := gnarkio.ReadAll(&srs, b); err != nil {
			return nil, fmt.Errorf("not a bw6-761 KZG SRS: %v", err)
		}
		if len(srs.Pk.G1) < need {
			return nil, short(len(srs.Pk.G1))
		}
		lag, err := kzgbw6761.ToLagrangeG1(srs.Pk.G1[:sizeLagrange])
		if err != nil {
			return nil, err
		}
		return [2]kzg.SRS{&srs, &kzgbw6761.SRS{Pk: kzgbw6761.ProvingKey{G1: lag}, Vk: srs.Vk}}, nil
	}
	return nil, fmt.Errorf("curve %s has no SRS support", curve)
}

// DevSRS encodes the development SRS (canonical form) sized for a
// constraint system, so that tests can exercise the --srs path.
func DevSRS(ccs []byte) ([]byte, error) {
	c, err := decodeCCS(ccs)
	if err != nil {
		return nil, err
	}
	canonical, _, err := unsafekzg.NewSRS(c.cs, unsafekzg.WithToxicSeed([]byte(DevSRSSeed)))
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := canonical.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

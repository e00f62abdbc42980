package snark

import (
	"fmt"

	"github.com/consensys/gnark/backend/plonk"
	plonkbls12377 "github.com/consensys/gnark/backend/plonk/bls12-377"
	plonkbn254 "github.com/consensys/gnark/backend/plonk/bn254"
	plonkbw6761 "github.com/consensys/gnark/backend/plonk/bw6-761"
)

// plonkNbPublic is the number of public inputs a PLONK verifying key expects;
// gnark's interface does not expose it.
func plonkNbPublic(vk plonk.VerifyingKey) (int, error) {
	switch k := vk.(type) {
	case *plonkbn254.VerifyingKey:
		return int(k.NbPublicVariables), nil
	case *plonkbls12377.VerifyingKey:
		return int(k.NbPublicVariables), nil
	case *plonkbw6761.VerifyingKey:
		return int(k.NbPublicVariables), nil
	}
	return 0, fmt.Errorf("unsupported PLONK verifying key type %T", vk)
}

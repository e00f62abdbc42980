package evm_test

import (
	"testing"

	"github.com/consensys/gnark-crypto/ecc"

	"github.com/proofd/proofd/evm"
)

// FuzzCalldata: no input makes the decoders panic or hang, and whatever they
// accept encodes to well-formed calldata.
func FuzzCalldata(f *testing.F) {
	g := newGroth16(f, ecc.BN254)
	proof, public, vk := encode(f, g.proof), marshal(f, g.public), encode(f, g.vk)
	f.Add(proof, public, vk)
	f.Add(proof, public, []byte(nil))
	f.Add(proof[:len(proof)-1], public[:len(public)-1], vk[:40])
	f.Add(encode(f, newGroth16(f, ecc.BLS12_377).proof), marshal(f, g.full), []byte{0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, proof, public, vk []byte) {
		call, err := evm.Calldata(proof, public, vk)
		if err != nil {
			if _, ok := err.(*evm.InputError); !ok {
				t.Fatalf("error %v is not an InputError", err)
			}
			return
		}
		if len(call.Data) < 4 || (len(call.Data)-4)%32 != 0 {
			t.Fatalf("calldata of %d bytes: not selector + words", len(call.Data))
		}
		sel := evm.Selector(call.Signature)
		if string(call.Data[:4]) != string(sel[:]) {
			t.Fatalf("selector %x for %s", call.Data[:4], call.Signature)
		}
	})
}

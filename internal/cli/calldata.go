package cli

import (
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/proofd/proofd/atomicfile"
	"github.com/proofd/proofd/evm"
)

func (a *app) calldataCommand() *cobra.Command {
	var proofPath, publicPath, vkPath, out string
	var asHex, solidityTarget bool
	cmd := &cobra.Command{
		Use:   "calldata --proof F --public F --out F [--vk F] [--hex] [--solidity-target]",
		Short: "encode a bn254 proof as a call to the verifier `proofd solidity` exports",
		Long: "calldata writes the transaction data (4-byte selector and ABI-encoded arguments) that\n" +
			"verifies a bn254 proof on the Solidity verifier `proofd solidity` exports for its key:\n" +
			"verifyProof(bytes,uint256[N]) for Groth16 (reverts unless valid), Verify(bytes,uint256[])\n" +
			"for PLONK (returns true if valid). The scheme is read from the proof; with --vk the proof's\n" +
			"scheme and the number of public inputs are checked against the key. Groth16 proofs with\n" +
			"Pedersen commitments are refused unless --solidity-target says the proof was made with\n" +
			"proofd prove --target solidity: the contract hashes commitments with keccak256, and the\n" +
			"proof's bytes do not say which hash it was made with. The proof is not verified here;\n" +
			"use proofd verify --target solidity.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return fmt.Errorf("--out is required")
			}
			proof, err := readInput("proof", proofPath)
			if err != nil {
				return err
			}
			pub, err := readInput("public", publicPath)
			if err != nil {
				return err
			}
			in := files{"proof": proofPath, "public": publicPath}
			var vk []byte
			if vkPath != "" {
				if vk, err = readInput("vk", vkPath); err != nil {
					return err
				}
				in["vk"] = vkPath
			}
			call, err := evm.CalldataWith(proof, pub, vk, evm.Options{SolidityTarget: solidityTarget})
			if err != nil {
				var ie *evm.InputError
				if errors.As(err, &ie) {
					return fmt.Errorf("calldata: %s (--%s): %v", in[ie.Input], ie.Input, ie.Err)
				}
				return err
			}
			data := call.Data
			if asHex {
				data = []byte("0x" + hex.EncodeToString(call.Data) + "\n")
			}
			if err := atomicfile.Write(out, data, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "calldata %s (%d bytes): %s, %s proof, %d public inputs\n",
				out, len(call.Data), call.Signature, call.Scheme, call.NbPublic)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&proofPath, "proof", "", "proof, as proofd prove writes it (bn254)")
	f.StringVar(&publicPath, "public", "", "public witness, as proofd prove writes it")
	f.StringVar(&vkPath, "vk", "", "verifying key the contract was exported from (optional: checks scheme and input count)")
	f.StringVar(&out, "out", "", "where to write the calldata")
	f.BoolVar(&asHex, "hex", false, "write 0x-prefixed hex and a newline instead of raw bytes")
	f.BoolVar(&solidityTarget, "solidity-target", false, "the proof was made with proofd prove --target solidity: encode Groth16 proofs with commitments too")
	return cmd
}

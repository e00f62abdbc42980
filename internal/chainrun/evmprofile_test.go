package chainrun_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/engine/enginetest"
	"github.com/proofd/proofd/engine/snarkclient"
	"github.com/proofd/proofd/evm"
	"github.com/proofd/proofd/evm/evmtest"
	"github.com/proofd/proofd/examples/rollup"
	"github.com/proofd/proofd/examples/rollup/prover"
	"github.com/proofd/proofd/internal/chainrun"
	"github.com/proofd/proofd/receipts"
	"github.com/proofd/proofd/snark"
)

// TestEVMProfileOnChain is the evm profile's acceptance test: the final
// proof of a chain proven with --profile evm, taken from the receipt store,
// verifies in go-ethereum's EVM on the Solidity verifier exported (as
// proofd solidity does) from the wrapper's cached verifying key, encoded as
// proofd calldata --solidity-target encodes it; consecutive settlements
// chain through their public roots from genesis; a changed root reverts.
//
// It is heavy (the wrapper has millions of constraints) and runs only with
// PROOFD_HEAVY=1. With PROOFD_EVM_DATA_DIR it checks the data directory of a
// finished `proofd demo --profile evm` run (which must be --depth 4) instead
// of proving a 2-block chain itself.
func TestEVMProfileOnChain(t *testing.T) {
	if os.Getenv("PROOFD_HEAVY") != "1" {
		t.Skip("set PROOFD_HEAVY=1 (and optionally PROOFD_EVM_DATA_DIR): proves or reads an evm-profile chain")
	}
	evmtest.Solc(t)
	dir := os.Getenv("PROOFD_EVM_DATA_DIR")
	if dir == "" {
		dir = t.TempDir()
		f, _ := countingPool(t, 1)
		sim := rollup.SimConfig{Params: rollup.Params{Depth: 4, TxsPerBlock: 1, BundleSize: 1}, Seed: 1, Blocks: 2, Reorgs: -1}
		start := time.Now()
		res, err := chainrun.Run(context.Background(), chainrun.Config{Sim: sim, Profile: prover.ProfileEVM, DataDir: dir, Pool: f, MaxProving: 1, MaxUnsettled: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range res.Setup {
			t.Logf("%s: %d constraints, compile %v, setup %v", s.Stage, s.Constraints, s.Compile, s.Setup)
		}
		t.Logf("chain proven in %v; final verified %v", time.Since(start), res.FinalVerified)
	}
	var id struct {
		Depth   int    `json:"depth"`
		Profile string `json:"profile"`
	}
	raw, err := os.ReadFile(filepath.Join(dir, "chain.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &id); err != nil || id.Profile != prover.ProfileEVM {
		t.Fatalf("%s/chain.json: profile %q (%v), want an evm-profile data directory", dir, id.Profile, err)
	}

	// The wrapper's keys: the one bn254 Groth16 verifying key in the cache.
	var vk artifact.Artifact
	var image [32]byte
	mans, _ := filepath.Glob(filepath.Join(dir, "keys", "*", "keys.json"))
	for _, m := range mans {
		var man struct{ CCS, VK string }
		b, err := os.ReadFile(m)
		if err != nil || json.Unmarshal(b, &man) != nil {
			t.Fatalf("%s: %v", m, err)
		}
		data, err := os.ReadFile(filepath.Join(filepath.Dir(m), "vk.bin"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := evm.DecodeVK(data); err != nil {
			continue // tx (bls12-377) or batch (bw6-761)
		}
		vk = artifact.New(data)
		ccsBytes, err := hex.DecodeString(man.CCS)
		if err != nil {
			t.Fatalf("%s: ccs: %v", m, err)
		}
		ccs, err := artifact.Parse("ccs", ccsBytes)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		h.Write([]byte("proofd/image/v1"))
		h.Write(ccs[:])
		h.Write(vk.Digest[:])
		h.Write([]byte("target/" + snarkclient.TargetSolidity))
		copy(image[:], h.Sum(nil))
	}
	if vk.Data == nil {
		t.Fatalf("no bn254 verifying key among %v", mans)
	}

	// Every wrap receipt, oldest first.
	store, err := receipts.Open(filepath.Join(dir, "receipts"), receipts.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var wraps []receipts.Key
	store.Keys(func(k receipts.Key) error {
		if k.Kind == receipts.KindAggregate && k.Image == image {
			wraps = append(wraps, k)
		}
		return nil
	})
	if len(wraps) == 0 {
		t.Fatal("no wrap receipt in the store")
	}
	sort.Slice(wraps, func(i, j int) bool { return wraps[i].Checkpoint < wraps[j].Checkpoint })

	c := enginetest.InProcess(t, snark.Config(nil))
	src, err := snarkclient.New(c).Solidity(context.Background(), "rollup-wrap", vk)
	if err != nil {
		t.Fatal(err)
	}
	contract := evmtest.Compile(t, src, "Verifier")
	chain := evmtest.NewChain(t)
	addr := chain.Deploy(t, contract.Bytecode)

	_, genesis := rollup.Genesis(rollup.Params{Depth: id.Depth, TxsPerBlock: 1, BundleSize: 1})
	// Settlements chain through their roots: checkpoint n's PrevRoot is
	// checkpoint n-1's Root (genesis for 1), what a verifier contract that
	// stores the root would require.
	lastCheckpoint, lastRoot := uint64(0), new(big.Int).SetBytes(genesis[:])
	for _, k := range wraps {
		r, ok, err := store.Get(k)
		if err != nil || !ok {
			t.Fatalf("wrap receipt at %d: %v %v", k.Checkpoint, ok, err)
		}
		call, err := evm.CalldataWith(r.Proof, r.Public, vk.Data, evm.Options{SolidityTarget: true})
		if err != nil {
			t.Fatal(err)
		}
		res := chain.Call(addr, call.Data)
		if res.Err != nil {
			t.Fatalf("wrap proof of checkpoint %d rejected on chain: %v (%s)", k.Checkpoint, res.Err, evmtest.RevertName(contract.ABI, res.Return))
		}
		t.Logf("checkpoint %d: %s accepted, %d gas execution + %d intrinsic (%d calldata bytes) = %d",
			k.Checkpoint, call.Signature, res.GasUsed, evmtest.IntrinsicGas(call.Data), len(call.Data), res.GasUsed+evmtest.IntrinsicGas(call.Data))

		// Public inputs: PrevRoot, Root (selector, offset, then the array).
		in := call.Data[4+32:]
		prev, root := new(big.Int).SetBytes(in[:32]), new(big.Int).SetBytes(in[32:64])
		if k.Checkpoint == lastCheckpoint+1 && prev.Cmp(lastRoot) != 0 {
			t.Errorf("checkpoint %d: PrevRoot %x does not continue checkpoint %d's Root %x", k.Checkpoint, prev, lastCheckpoint, lastRoot)
		}
		lastCheckpoint, lastRoot = k.Checkpoint, root

		bad := bytes.Clone(call.Data)
		bad[4+32+63] ^= 0x01 // Root
		if r := chain.Call(addr, bad); !r.Reverted() {
			t.Errorf("checkpoint %d: a changed Root was accepted (err %v)", k.Checkpoint, r.Err)
		}
	}
}

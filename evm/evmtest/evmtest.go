package evmtest

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/ethereum/go-ethereum/core/vm/runtime"
)

// RequireEnv, set to 1, turns a solc that cannot be installed into a test
// failure instead of a skip. The Makefile (CI) sets it.
const RequireEnv = "PROOFD_REQUIRE_SOLC"

// EVMVersion is the hard fork the contracts are compiled for. It matches
// go-ethereum's runtime defaults (Cancun), which do not know later opcodes.
const EVMVersion = "cancun"

var (
	solcOnce sync.Once
	solcPath string
	solcErr  error
)

// Solc returns the path of a runnable solcjs, running
// scripts/install-solc.sh (a no-op once installed) the first time a test
// binary asks. If it cannot, the test is skipped, or fails when
// PROOFD_REQUIRE_SOLC=1.
func Solc(t testing.TB) string {
	t.Helper()
	solcOnce.Do(func() { solcPath, solcErr = installSolc() })
	if solcErr != nil {
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("solc is required (%s=1) but could not be installed: %v", RequireEnv, solcErr)
		}
		t.Skipf("skipping: solc could not be installed (set %s=1 to fail instead): %v", RequireEnv, solcErr)
	}
	return solcPath
}

func installSolc() (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "scripts", "install-solc.sh"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("scripts/install-solc.sh: %v\n%s", err, stderr.Bytes())
	}
	path := strings.TrimSpace(string(out))
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("scripts/install-solc.sh printed %q: %v", path, err)
	}
	return path, nil
}

// repoRoot is the nearest directory above the working directory (a test's
// package directory) holding scripts/install-solc.sh.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "scripts", "install-solc.sh")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no scripts/install-solc.sh above the working directory")
		}
		dir = parent
	}
}

// Contract is a compiled contract.
type Contract struct {
	Name     string
	Bytecode []byte // creation code
	ABI      abi.ABI
}

// Compile compiles one Solidity source with solcjs's standard-JSON interface,
// optimizer on, and returns the contract named contract.
func Compile(t testing.TB, source, contract string) *Contract {
	t.Helper()
	c, err := compile(Solc(t), source, contract)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func compile(solc, source, contract string) (*Contract, error) {
	input := map[string]any{
		"language": "Solidity",
		"sources":  map[string]any{"verifier.sol": map[string]any{"content": source}},
		"settings": map[string]any{
			"optimizer":       map[string]any{"enabled": true, "runs": 200},
			"evmVersion":      EVMVersion,
			"outputSelection": map[string]any{"*": map[string]any{"*": []string{"abi", "evm.bytecode.object"}}},
		},
	}
	in, err := json.Marshal(input)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, solc, "--standard-json")
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("solcjs --standard-json: %v\n%s", err, stderr.Bytes())
	}
	// solcjs prints notes (">>> Cannot retry compilation with SMT ...") before the JSON.
	if i := bytes.IndexByte(out, '{'); i > 0 {
		out = out[i:]
	}
	var res struct {
		Errors []struct {
			Severity         string `json:"severity"`
			FormattedMessage string `json:"formattedMessage"`
		} `json:"errors"`
		Contracts map[string]map[string]struct {
			ABI json.RawMessage `json:"abi"`
			EVM struct {
				Bytecode struct {
					Object string `json:"object"`
				} `json:"bytecode"`
			} `json:"evm"`
		} `json:"contracts"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, fmt.Errorf("solcjs output is not JSON: %v\n%.2000s", err, out)
	}
	var errs []string
	for _, e := range res.Errors {
		if e.Severity == "error" {
			errs = append(errs, e.FormattedMessage)
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("solc: %s", strings.Join(errs, "\n"))
	}
	c, ok := res.Contracts["verifier.sol"][contract]
	if !ok {
		var names []string
		for n := range res.Contracts["verifier.sol"] {
			names = append(names, n)
		}
		return nil, fmt.Errorf("solc output has no contract %s (has %v)", contract, names)
	}
	code, err := hex.DecodeString(c.EVM.Bytecode.Object)
	if err != nil || len(code) == 0 {
		return nil, fmt.Errorf("contract %s: bad bytecode %.40q: %v", contract, c.EVM.Bytecode.Object, err)
	}
	a, err := abi.JSON(bytes.NewReader(c.ABI))
	if err != nil {
		return nil, fmt.Errorf("contract %s: ABI: %v", contract, err)
	}
	return &Contract{Name: contract, Bytecode: code, ABI: a}, nil
}

// GasLimit is the gas each call gets: far more than any verifier needs.
const GasLimit = 30_000_000

// Chain is an in-memory EVM state with default (Cancun) rules.
type Chain struct {
	state *state.StateDB
}

// NewChain is an empty state.
func NewChain(t testing.TB) *Chain {
	t.Helper()
	st, err := state.New(types.EmptyRootHash, state.NewDatabaseForTesting())
	if err != nil {
		t.Fatal(err)
	}
	return &Chain{state: st}
}

func (c *Chain) config() *runtime.Config {
	return &runtime.Config{State: c.state, GasLimit: GasLimit, Origin: common.HexToAddress("0x1000")}
}

// Deploy runs code's constructor and returns the contract's address.
func (c *Chain) Deploy(t testing.TB, code []byte) common.Address {
	t.Helper()
	runtimeCode, addr, _, err := runtime.Create(code, c.config())
	if err != nil {
		t.Fatalf("deploy: %v", err)
	}
	if len(runtimeCode) == 0 {
		t.Fatal("deploy: no runtime code")
	}
	return addr
}

// Result is the outcome of a call.
type Result struct {
	Return  []byte // return data, or revert data
	GasUsed uint64 // execution gas, without the transaction's intrinsic 21000 and calldata cost
	Err     error  // nil, or why the call failed (vm.ErrExecutionReverted for a revert)
}

// Reverted says whether the call reverted.
func (r Result) Reverted() bool { return errors.Is(r.Err, vm.ErrExecutionReverted) }

// Call calls to with data.
func (c *Chain) Call(to common.Address, data []byte) Result {
	ret, left, err := runtime.Call(to, data, c.config())
	return Result{Return: ret, GasUsed: GasLimit - left, Err: err}
}

// RevertName is the custom error a revert carries, by its selector among
// those of a, or "Error(<reason>)" for a require's string, or the raw data.
func RevertName(a abi.ABI, data []byte) string {
	if len(data) < 4 {
		return fmt.Sprintf("revert(%x)", data)
	}
	for name, e := range a.Errors {
		if bytes.Equal(e.ID[:4], data[:4]) {
			return name
		}
	}
	if reason, err := abi.UnpackRevert(data); err == nil {
		return "Error(" + reason + ")"
	}
	return fmt.Sprintf("revert(%x)", data)
}

// IntrinsicGas is what a transaction carrying data pays before execution
// under the rules Chain runs (Cancun: 21000, 16 per nonzero byte, 4 per zero).
func IntrinsicGas(data []byte) uint64 {
	gas := uint64(21000)
	for _, b := range data {
		if b == 0 {
			gas += 4
		} else {
			gas += 16
		}
	}
	return gas
}

// Word is v as a 32-byte big-endian word.
func Word(v *big.Int) []byte { return common.LeftPadBytes(v.Bytes(), 32) }

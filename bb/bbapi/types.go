package bbapi

import (
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
)

// The types below mirror bb 5.0.0's msgpack schema (`bb msgpack schema`,
// saved as testdata/schema.json; TestSchemaFieldNames compares them).
// Field order follows the schema; bb reads structs as maps keyed by name.

// Oracle hash types for Settings.OracleHashType.
const (
	OracleHashPoseidon2 = "poseidon2" // bb's default; cheapest to verify in a circuit
	OracleHashKeccak    = "keccak"    // for proofs verified on the EVM
	OracleHashStarknet  = "starknet"
)

// Field is one element of a proof, a public input or a vk's field form:
// a 32-byte big-endian integer, sent as msgpack bin of exactly 32 bytes.
type Field [32]byte

// DecodeMsgpack refuses anything but a 32-byte bin, where msgpack's
// default would zero-pad a short one.
func (f *Field) DecodeMsgpack(d *msgpack.Decoder) error {
	b, err := d.DecodeBytes()
	if err != nil {
		return err
	}
	if len(b) != len(f) {
		return fmt.Errorf("field element of %d bytes, want %d", len(b), len(f))
	}
	copy(f[:], b)
	return nil
}

// Settings is bb's ProofSystemSettings: UltraHonk, with zero knowledge
// unless DisableZK. OracleHashType must be set (bb refuses "" with an
// ErrorResponse); OracleHashPoseidon2 is what `bb prove` uses by default.
type Settings struct {
	IPAAccumulation           bool   `msgpack:"ipa_accumulation"`
	OracleHashType            string `msgpack:"oracle_hash_type"`
	DisableZK                 bool   `msgpack:"disable_zk"`
	OptimizedSolidityVerifier bool   `msgpack:"optimized_solidity_verifier"`
}

// CircuitInput is a circuit as bb takes it: Bytecode is the ACIR program,
// that is a Noir artifact's base64 `bytecode` decoded and gunzipped.
// VerificationKey may be empty; bb then computes it.
type CircuitInput struct {
	Name            string `msgpack:"name"`
	Bytecode        []byte `msgpack:"bytecode"`
	VerificationKey []byte `msgpack:"verification_key"`
}

// CircuitInputNoVK is CircuitInput without a key, for CircuitComputeVk.
type CircuitInputNoVK struct {
	Name     string `msgpack:"name"`
	Bytecode []byte `msgpack:"bytecode"`
}

// A Command is a request bb's msgpack API serves.
type Command interface {
	// CommandName is the command's name in bb's schema.
	CommandName() string
}

// CircuitProve proves that Witness (a gunzipped Noir witness) satisfies
// the circuit.
type CircuitProve struct {
	Circuit  CircuitInput `msgpack:"circuit"`
	Witness  []byte       `msgpack:"witness"`
	Settings Settings     `msgpack:"settings"`
}

// CircuitComputeVk computes a circuit's verification key.
type CircuitComputeVk struct {
	Circuit  CircuitInputNoVK `msgpack:"circuit"`
	Settings Settings         `msgpack:"settings"`
}

// CircuitStats counts a circuit's gates.
type CircuitStats struct {
	Circuit               CircuitInput `msgpack:"circuit"`
	IncludeGatesPerOpcode bool         `msgpack:"include_gates_per_opcode"`
	Settings              Settings     `msgpack:"settings"`
}

// CircuitVerify verifies a proof against a verification key.
type CircuitVerify struct {
	VerificationKey []byte   `msgpack:"verification_key"`
	PublicInputs    []Field  `msgpack:"public_inputs"`
	Proof           []Field  `msgpack:"proof"`
	Settings        Settings `msgpack:"settings"`
}

// CircuitWriteSolidityVerifier writes a Solidity contract that verifies
// proofs for a verification key (made with keccak as the oracle hash).
type CircuitWriteSolidityVerifier struct {
	VerificationKey []byte   `msgpack:"verification_key"`
	Settings        Settings `msgpack:"settings"`
}

// Shutdown asks bb to answer and exit.
type Shutdown struct{}

func (*CircuitProve) CommandName() string                 { return "CircuitProve" }
func (*CircuitComputeVk) CommandName() string             { return "CircuitComputeVk" }
func (*CircuitStats) CommandName() string                 { return "CircuitStats" }
func (*CircuitVerify) CommandName() string                { return "CircuitVerify" }
func (*CircuitWriteSolidityVerifier) CommandName() string { return "CircuitWriteSolidityVerifier" }
func (*Shutdown) CommandName() string                     { return "Shutdown" }

// A Response is a reply bb sends; DecodeResponse returns one of the
// pointer types below.
type Response interface {
	// ResponseName is the response's name in bb's schema.
	ResponseName() string
}

// ErrorResponse is bb's reply to a command it could not carry out. Process
// turns it into a *BBError.
type ErrorResponse struct {
	Message string `msgpack:"message"`
}

// CircuitProveResponse is a proof, its public inputs and the circuit's
// verification key.
type CircuitProveResponse struct {
	PublicInputs []Field                  `msgpack:"public_inputs"`
	Proof        []Field                  `msgpack:"proof"`
	Vk           CircuitComputeVkResponse `msgpack:"vk"`
}

// CircuitComputeVkResponse is a verification key: Bytes is what
// CircuitVerify takes (and `bb write_vk` writes), Fields the same key as
// field elements, Hash its hash.
type CircuitComputeVkResponse struct {
	Bytes  []byte  `msgpack:"bytes"`
	Fields []Field `msgpack:"fields"`
	Hash   []byte  `msgpack:"hash"`
}

// CircuitInfoResponse answers CircuitStats: NumGates is the finalized gate
// count, NumGatesDyadic the power of two the prover works on (the CRS must
// hold at least that many points).
type CircuitInfoResponse struct {
	NumGates       uint32   `msgpack:"num_gates"`
	NumGatesDyadic uint32   `msgpack:"num_gates_dyadic"`
	NumAcirOpcodes uint32   `msgpack:"num_acir_opcodes"`
	GatesPerOpcode []uint32 `msgpack:"gates_per_opcode"`
}

// CircuitVerifyResponse says whether a proof verified.
type CircuitVerifyResponse struct {
	Verified bool `msgpack:"verified"`
}

// CircuitWriteSolidityVerifierResponse is a Solidity verifier contract.
type CircuitWriteSolidityVerifierResponse struct {
	SolidityCode string `msgpack:"solidity_code"`
}

// ShutdownResponse acknowledges Shutdown; bb exits after sending it.
type ShutdownResponse struct{}

func (*ErrorResponse) ResponseName() string            { return "ErrorResponse" }
func (*CircuitProveResponse) ResponseName() string     { return "CircuitProveResponse" }
func (*CircuitComputeVkResponse) ResponseName() string { return "CircuitComputeVkResponse" }
func (*CircuitInfoResponse) ResponseName() string      { return "CircuitInfoResponse" }
func (*CircuitVerifyResponse) ResponseName() string    { return "CircuitVerifyResponse" }
func (*CircuitWriteSolidityVerifierResponse) ResponseName() string {
	return "CircuitWriteSolidityVerifierResponse"
}
func (*ShutdownResponse) ResponseName() string { return "ShutdownResponse" }

// responses makes an empty response of each name DecodeResponse knows.
var responses = map[string]func() Response{
	"ErrorResponse":                        func() Response { return new(ErrorResponse) },
	"CircuitProveResponse":                 func() Response { return new(CircuitProveResponse) },
	"CircuitComputeVkResponse":             func() Response { return new(CircuitComputeVkResponse) },
	"CircuitInfoResponse":                  func() Response { return new(CircuitInfoResponse) },
	"CircuitVerifyResponse":                func() Response { return new(CircuitVerifyResponse) },
	"CircuitWriteSolidityVerifierResponse": func() Response { return new(CircuitWriteSolidityVerifierResponse) },
	"ShutdownResponse":                     func() Response { return new(ShutdownResponse) },
}

package bbengine

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/proofd/proofd/bb/bbtest"
	"github.com/proofd/proofd/bb/crs"
	"github.com/proofd/proofd/engine"
	"github.com/proofd/proofd/proto/enginev1"
)

// Each bad input gets an answer that names it, and the same engine process
// serves the next valid call: bb's ErrorResponse is the input's fault, never
// the engine's death.
func TestBadInput(t *testing.T) {
	c := spawn(t)
	noir := enginev1.NewNoirClient(c.Raw())
	ctx := ctxT(t)
	tiny := bbtest.Load(t, "tiny")
	hashchain := bbtest.Load(t, "hashchain")
	circuit := upload(t, c, "circuit", tiny.ACIR)
	good, err := noir.Prove(ctx, &enginev1.NoirProveRequest{Circuit: circuit, Witness: tiny.Witness})
	if err != nil {
		t.Fatal(err)
	}
	pid := c.Pid()

	// stillServing proves the engine that answered the bad input is the
	// same live process and still verifies a good proof.
	stillServing := func(t *testing.T) {
		t.Helper()
		v, err := noir.Verify(ctx, &enginev1.NoirVerifyRequest{Vk: good.Vk, Proof: good.Proof, PublicInputs: good.PublicInputs})
		if err != nil || !v.Valid {
			t.Fatalf("a valid call after the bad one: %v, %v", v, err)
		}
		if c.Pid() != pid || gone(pid) {
			t.Fatalf("engine pid %d is gone", pid)
		}
	}
	// refused checks err is INVALID_ARGUMENT with a BadInput detail naming
	// input and a reason containing each of says.
	refused := func(t *testing.T, err error, input string, says ...string) {
		t.Helper()
		if status.Code(err) != codes.InvalidArgument {
			t.Fatalf("got %v, want INVALID_ARGUMENT naming %q", err, input)
		}
		got, reason, ok := badInput(err)
		if !ok || got != input {
			t.Fatalf("got %v (BadInput %q), want BadInput %q", err, got, input)
		}
		for _, s := range says {
			if !strings.Contains(reason, s) {
				t.Errorf("reason %q does not say %q", reason, s)
			}
		}
		t.Logf("BadInput %q: %s", got, reason)
	}
	// invalid checks a Verify answer is valid=false with a reason.
	invalid := func(t *testing.T, v *enginev1.VerifyResponse, err error) {
		t.Helper()
		if err != nil || v.Valid || v.Reason == "" {
			t.Fatalf("got %v, %v; want valid=false with a reason", v, err)
		}
		t.Logf("valid=false: %s", v.Reason)
	}

	t.Run("JunkBytecode", func(t *testing.T) {
		junk := upload(t, c, "circuit", []byte("this is not ACIR"))
		_, err := noir.Prove(ctx, &enginev1.NoirProveRequest{Circuit: junk, Witness: tiny.Witness})
		refused(t, err, "circuit")
		stillServing(t)
	})
	t.Run("WitnessOfAnotherCircuit", func(t *testing.T) {
		_, err := noir.Prove(ctx, &enginev1.NoirProveRequest{Circuit: circuit, Witness: hashchain.Witness})
		refused(t, err, "witness")
		stillServing(t)
	})
	t.Run("TamperedProof", func(t *testing.T) {
		// A scalar near the end and a commitment coordinate near the
		// start: bb answers verified=false for the one and cannot read
		// the other; both are valid=false.
		for _, i := range []int{len(good.Proof) - 1, 31} {
			bad := bytes.Clone(good.Proof)
			bad[i] ^= 1
			v, err := noir.Verify(ctx, &enginev1.NoirVerifyRequest{Vk: good.Vk, Proof: bad, PublicInputs: good.PublicInputs})
			invalid(t, v, err)
		}
		stillServing(t)
	})
	t.Run("TamperedPublicInput", func(t *testing.T) {
		pub := bytes.Clone(good.PublicInputs)
		pub[len(pub)-1] ^= 1
		v, err := noir.Verify(ctx, &enginev1.NoirVerifyRequest{Vk: good.Vk, Proof: good.Proof, PublicInputs: pub})
		invalid(t, v, err)
		stillServing(t)
	})
	// A key of another circuit is valid=false, not bad input: the engine
	// cannot tell a key from the wrong circuit from a proof that is wrong
	// for the right one, and in Verify the proof is what is judged.
	t.Run("VkOfAnotherCircuit", func(t *testing.T) {
		other := upload(t, c, "circuit", hashchain.ACIR)
		vk, err := noir.Vk(ctx, &enginev1.NoirVkRequest{Circuit: other})
		if err != nil {
			t.Fatal(err)
		}
		v, err := noir.Verify(ctx, &enginev1.NoirVerifyRequest{Vk: vk.Vk, Proof: good.Proof, PublicInputs: good.PublicInputs})
		invalid(t, v, err)
		stillServing(t)
	})
	// A keccak key with a poseidon2 proof: the same answer.
	t.Run("VkOfAnotherOracleHash", func(t *testing.T) {
		vk, err := noir.Vk(ctx, &enginev1.NoirVkRequest{Circuit: circuit, OracleHash: enginev1.OracleHash_ORACLE_HASH_KECCAK})
		if err != nil {
			t.Fatal(err)
		}
		v, err := noir.Verify(ctx, &enginev1.NoirVerifyRequest{Vk: vk.Vk, Proof: good.Proof, PublicInputs: good.PublicInputs})
		invalid(t, v, err)
		stillServing(t)
	})
	// big is dyadic 2^16, over the CRS: refused from its stats, before bb
	// proves or keys it. bb itself would stall for about 6.5 s trying to
	// download points and then fail with "HTTP request failed"; the
	// engine's reason naming the sizes shows bb was never asked.
	t.Run("OversizedCircuit", func(t *testing.T) {
		big := upload(t, c, "circuit", bbtest.Load(t, "big").ACIR)
		size := fmt.Sprintf("dyadic size %d", 1<<16)
		limit := fmt.Sprintf("over the %d", crs.MaxDyadicSize)
		_, err := noir.Prove(ctx, &enginev1.NoirProveRequest{Circuit: big, Witness: tiny.Witness})
		refused(t, err, "circuit", size, limit)
		_, err = noir.Vk(ctx, &enginev1.NoirVkRequest{Circuit: big})
		refused(t, err, "circuit", size, limit)
		_, err = noir.Check(ctx, &enginev1.NoirCheckRequest{Circuit: big, Witness: tiny.Witness})
		refused(t, err, "circuit", size, limit)
		// Stats is how a client learns the size: it answers.
		st, err := noir.Stats(ctx, &enginev1.NoirStatsRequest{Circuit: big})
		if err != nil || st.DyadicSize != 1<<16 || st.MaxDyadicSize != crs.MaxDyadicSize {
			t.Fatalf("stats of big: %v, %v", st, err)
		}
		stillServing(t)
	})
	t.Run("PublicInputsNotFields", func(t *testing.T) {
		_, err := noir.Verify(ctx, &enginev1.NoirVerifyRequest{Vk: good.Vk, Proof: good.Proof, PublicInputs: append(bytes.Clone(good.PublicInputs), 0)})
		refused(t, err, "public", "33 bytes")
		stillServing(t)
	})
	t.Run("ProofNotFields", func(t *testing.T) {
		v, err := noir.Verify(ctx, &enginev1.NoirVerifyRequest{Vk: good.Vk, Proof: good.Proof[:len(good.Proof)-1], PublicInputs: good.PublicInputs})
		invalid(t, v, err)
		stillServing(t)
	})
	t.Run("UnknownOracleHash", func(t *testing.T) {
		_, err := noir.Prove(ctx, &enginev1.NoirProveRequest{Circuit: circuit, Witness: tiny.Witness, OracleHash: 7})
		refused(t, err, "oracle_hash", "7")
		_, err = noir.Verify(ctx, &enginev1.NoirVerifyRequest{Vk: good.Vk, Proof: good.Proof, PublicInputs: good.PublicInputs, OracleHash: 7})
		refused(t, err, "oracle_hash", "7")
		stillServing(t)
	})
	// A client learns which input was bad through engine.FromStatus.
	t.Run("InputError", func(t *testing.T) {
		_, err := noir.Prove(ctx, &enginev1.NoirProveRequest{Circuit: circuit, Witness: hashchain.Witness})
		var ie *engine.InputError
		if err := engine.FromStatus(ctx, "prove", err); !errors.As(err, &ie) || ie.Input != "witness" {
			t.Fatalf("FromStatus: %v, want an InputError naming the witness", err)
		}
	})
	if c.Info().GetKind() != "bb" {
		t.Errorf("kind %q", c.Info().GetKind())
	}
}

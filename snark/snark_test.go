package snark_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/consensys/gnark-crypto/ecc"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/engine"
	"github.com/proofd/proofd/engine/enginetest"
	"github.com/proofd/proofd/engine/snarkclient"
	"github.com/proofd/proofd/examples/circuits"
	"github.com/proofd/proofd/snark"
)

func open(t *testing.T) *engine.Conn { return enginetest.InProcess(t, snark.Config(nil)) }

// fixture is an example encoded as the engine takes it.
type fixture struct {
	ccs          artifact.Artifact
	wit, public  []byte
	nbPub, nbSec int
}

func build(t *testing.T, name string, size int, curve ecc.ID, scheme string) fixture {
	t.Helper()
	ex, err := circuits.Build(name, size, curve, scheme)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := ex.CCS.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	wit, err := ex.Witness.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ex.Public.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return fixture{ccs: artifact.New(buf.Bytes()), wit: wit, public: pub}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func TestSetupProveVerify(t *testing.T) {
	for _, curve := range snark.Curves {
		for _, scheme := range []string{snarkclient.Groth16, snarkclient.Plonk} {
			t.Run(snark.CurveName(curve)+"/"+scheme, func(t *testing.T) {
				c := open(t)
				fx := build(t, "mimc", 4, curve, scheme)
				keys, err := snarkclient.New(c).Setup(ctx(t), snarkclient.SetupRequest{CCS: fx.ccs, Scheme: scheme, DevSRS: scheme == snarkclient.Plonk})
				if err != nil {
					t.Fatal(err)
				}
				if scheme == snarkclient.Plonk && (len(keys.Warnings) == 0 || !strings.Contains(keys.Warnings[0], "INSECURE")) {
					t.Errorf("dev SRS setup warnings = %q, want an INSECURE warning", keys.Warnings)
				}
				p, err := snarkclient.New(c).Prove(ctx(t), snarkclient.ProveRequest{CCS: fx.ccs, PK: keys.PK, Witness: fx.wit})
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(p.Public, fx.public) {
					t.Error("prove's public witness differs from the example's")
				}
				if !hasStage(p.Timings, "decode_witness") {
					t.Errorf("prove timings %v lack decode_witness", p.Timings)
				}
				res, err := snarkclient.New(c).Verify(ctx(t), snarkclient.VerifyRequest{VK: keys.VK, Proof: p.Proof, Public: p.Public})
				if err != nil {
					t.Fatal(err)
				}
				if !res.Valid {
					t.Fatalf("fresh proof is invalid: %s", res.Reason)
				}
				// Every flipped byte makes the proof invalid or undecodable, never valid.
				// Every byte for small proofs, a sample of the big ones.
				step := max(1, len(p.Proof)/64)
				for i := 0; i < len(p.Proof); i += step {
					bad := bytes.Clone(p.Proof)
					bad[i] ^= 0x01
					res, err := snarkclient.New(c).Verify(ctx(t), snarkclient.VerifyRequest{VK: keys.VK, Proof: bad, Public: p.Public})
					if err != nil {
						t.Fatalf("byte %d flipped: %v", i, err)
					}
					if res.Valid {
						t.Fatalf("byte %d flipped: proof still valid", i)
					}
				}
			})
		}
	}
}

func hasStage(ts []engine.Timing, stage string) bool {
	for _, t := range ts {
		if t.Stage == stage {
			return true
		}
	}
	return false
}

// TestPlonkSetupDeterministic: with the same SRS, PLONK keys are the same,
// and a user-supplied SRS file gives what --dev-srs gives.
func TestPlonkSetupDeterministic(t *testing.T) {
	c := open(t)
	fx := build(t, "mimc", 3, ecc.BN254, snarkclient.Plonk)
	a, err := snarkclient.New(c).Setup(ctx(t), snarkclient.SetupRequest{CCS: fx.ccs, Scheme: snarkclient.Plonk, DevSRS: true})
	if err != nil {
		t.Fatal(err)
	}
	srsBytes, err := snark.DevSRS(fx.ccs.Data)
	if err != nil {
		t.Fatal(err)
	}
	srs := artifact.New(srsBytes)
	b, err := snarkclient.New(open(t)).Setup(ctx(t), snarkclient.SetupRequest{CCS: fx.ccs, Scheme: snarkclient.Plonk, SRS: &srs})
	if err != nil {
		t.Fatal(err)
	}
	if a.VK.Digest != b.VK.Digest {
		t.Fatal("PLONK vk differs between --dev-srs and the same SRS given as a file")
	}
	if len(b.Warnings) != 0 {
		t.Errorf("setup with an SRS file warned: %q", b.Warnings)
	}
	solA, err := snarkclient.New(c).Solidity(ctx(t), "", a.VK)
	if err != nil {
		t.Fatal(err)
	}
	solB, err := snarkclient.New(c).Solidity(ctx(t), "", b.VK)
	if err != nil {
		t.Fatal(err)
	}
	if solA != solB || !strings.Contains(solA, "pragma solidity") {
		t.Fatal("solidity export is not deterministic or not solidity")
	}
}

func TestPlonkNeedsSRS(t *testing.T) {
	c := open(t)
	fx := build(t, "mimc", 3, ecc.BN254, snarkclient.Plonk)
	_, err := snarkclient.New(c).Setup(ctx(t), snarkclient.SetupRequest{CCS: fx.ccs, Scheme: snarkclient.Plonk})
	wantInput(t, err, "srs", "SRS")
	small := build(t, "mimc", 1, ecc.BN254, snarkclient.Plonk)
	srsBytes, err := snark.DevSRS(small.ccs.Data)
	if err != nil {
		t.Fatal(err)
	}
	srs := artifact.New(srsBytes)
	_, err = snarkclient.New(c).Setup(ctx(t), snarkclient.SetupRequest{CCS: fx.ccs, Scheme: snarkclient.Plonk, SRS: &srs})
	wantInput(t, err, "srs", "needs")
}

func TestSchemeMismatch(t *testing.T) {
	fx := build(t, "mimc", 2, ecc.BN254, snarkclient.Plonk)
	_, err := snarkclient.New(open(t)).Setup(ctx(t), snarkclient.SetupRequest{CCS: fx.ccs, Scheme: snarkclient.Groth16})
	wantInput(t, err, "scheme", "SparseR1CS")
}

func wantInput(t *testing.T, err error, input, mention string) {
	t.Helper()
	var ie *engine.InputError
	if !errors.As(err, &ie) {
		t.Fatalf("got %v, want an InputError for %s", err, input)
	}
	if ie.Input != input || !strings.Contains(ie.Reason, mention) {
		t.Fatalf("got input %q reason %q, want input %q mentioning %q", ie.Input, ie.Reason, input, mention)
	}
	if engine.IsRetryable(err) {
		t.Fatalf("bad input %v is marked retryable", err)
	}
}

// TestBadInputs feeds corrupt files to each operation of one engine and
// checks each gets an error naming the input, and the engine keeps serving.
func TestBadInputs(t *testing.T) {
	c := open(t)
	fx := build(t, "mimc", 3, ecc.BN254, snarkclient.Groth16)
	keys, err := snarkclient.New(c).Setup(ctx(t), snarkclient.SetupRequest{CCS: fx.ccs, Scheme: snarkclient.Groth16})
	if err != nil {
		t.Fatal(err)
	}
	good, err := snarkclient.New(c).Prove(ctx(t), snarkclient.ProveRequest{CCS: fx.ccs, PK: keys.PK, Witness: fx.wit})
	if err != nil {
		t.Fatal(err)
	}
	other := build(t, "transfer", 2, ecc.BN254, snarkclient.Groth16)
	otherKeys, err := snarkclient.New(c).Setup(ctx(t), snarkclient.SetupRequest{CCS: other.ccs, Scheme: snarkclient.Groth16})
	if err != nil {
		t.Fatal(err)
	}
	bw6 := build(t, "mimc", 3, ecc.BW6_761, snarkclient.Groth16)
	bls := build(t, "mimc", 3, ecc.BLS12_377, snarkclient.Groth16)

	flip := func(b []byte, i int) []byte { b = bytes.Clone(b); b[i] ^= 0xff; return b }
	trunc := func(b []byte, n int) []byte { return bytes.Clone(b[:n]) }

	cases := []struct {
		name, input, mention string
		call                 func() error
	}{
		{"ccs truncated", "ccs", "truncated", func() error {
			_, err := snarkclient.New(c).Stats(ctx(t), "", artifact.New(trunc(fx.ccs.Data, len(fx.ccs.Data)/2)))
			return err
		}},
		{"ccs tiny", "ccs", "truncated", func() error {
			_, err := snarkclient.New(c).Stats(ctx(t), "", artifact.New([]byte("ccs")))
			return err
		}},
		{"ccs bad version", "ccs", "not a gnark constraint system", func() error {
			_, err := snarkclient.New(c).Stats(ctx(t), "", artifact.New(flip(fx.ccs.Data, 8)))
			return err
		}},
		{"ccs absurd section length", "ccs", "corrupt", func() error {
			_, err := snarkclient.New(c).Stats(ctx(t), "", artifact.New(flip(fx.ccs.Data, 32+24+5)))
			return err
		}},
		{"witness truncated", "witness", "bytes", func() error {
			_, err := snarkclient.New(c).Prove(ctx(t), snarkclient.ProveRequest{CCS: fx.ccs, PK: keys.PK, Witness: trunc(fx.wit, len(fx.wit)-1)})
			return err
		}},
		{"witness of the wrong curve", "witness", "wrong curve", func() error {
			_, err := snarkclient.New(c).Prove(ctx(t), snarkclient.ProveRequest{CCS: fx.ccs, PK: keys.PK, Witness: bw6.wit})
			return err
		}},
		{"witness of another circuit", "witness", "another circuit", func() error {
			_, err := snarkclient.New(c).Check(ctx(t), "", fx.ccs, other.wit)
			return err
		}},
		{"public witness as full witness", "witness", "secret", func() error {
			_, err := snarkclient.New(c).Check(ctx(t), "", fx.ccs, fx.public)
			return err
		}},
		{"witness that does not satisfy", "witness", "", func() error {
			bad := bytes.Clone(fx.wit)
			bad[len(bad)-1] ^= 1 // the secret seed
			_, err := snarkclient.New(c).Prove(ctx(t), snarkclient.ProveRequest{CCS: fx.ccs, PK: keys.PK, Witness: bad})
			return err
		}},
		{"pk truncated", "pk", "proving key", func() error {
			_, err := snarkclient.New(c).Prove(ctx(t), snarkclient.ProveRequest{CCS: fx.ccs, PK: artifact.New(trunc(keys.PK.Data, 100)), Witness: fx.wit})
			return err
		}},
		{"pk of another curve", "pk", "", func() error {
			blsKeys, err := snarkclient.New(c).Setup(ctx(t), snarkclient.SetupRequest{CCS: bls.ccs, Scheme: snarkclient.Groth16})
			if err != nil {
				return err
			}
			_, err = snarkclient.New(c).Prove(ctx(t), snarkclient.ProveRequest{CCS: fx.ccs, PK: blsKeys.PK, Witness: fx.wit})
			return err
		}},
		{"vk truncated", "vk", "verifying key", func() error {
			_, err := snarkclient.New(c).Verify(ctx(t), snarkclient.VerifyRequest{VK: artifact.New(trunc(keys.VK.Data, 40)), Proof: good.Proof, Public: good.Public})
			return err
		}},
		{"vk corrupt", "vk", "verifying key", func() error {
			// Byte 0 holds the point encoding's flag bits. (A flip elsewhere
			// may give another valid point: a different key, and the proof
			// is then invalid, which TestSetupProveVerify covers for proofs.)
			_, err := snarkclient.New(c).Verify(ctx(t), snarkclient.VerifyRequest{VK: artifact.New(flip(keys.VK.Data, 0)), Proof: good.Proof, Public: good.Public})
			return err
		}},
		{"vk of another circuit", "public", "public values", func() error {
			_, err := snarkclient.New(c).Verify(ctx(t), snarkclient.VerifyRequest{VK: otherKeys.VK, Proof: good.Proof, Public: good.Public})
			return err
		}},
		{"public witness truncated", "public", "bytes", func() error {
			_, err := snarkclient.New(c).Verify(ctx(t), snarkclient.VerifyRequest{VK: keys.VK, Proof: good.Proof, Public: trunc(good.Public, 13)})
			return err
		}},
		{"solidity for a non-bn254 key", "vk", "bn254", func() error {
			k, err := snarkclient.New(c).Setup(ctx(t), snarkclient.SetupRequest{CCS: bls.ccs, Scheme: snarkclient.Groth16})
			if err != nil {
				return err
			}
			_, err = snarkclient.New(c).Solidity(ctx(t), "", k.VK)
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantInput(t, tc.call(), tc.input, tc.mention)
			// Still serving, and still right.
			res, err := snarkclient.New(c).Verify(ctx(t), snarkclient.VerifyRequest{VK: keys.VK, Proof: good.Proof, Public: good.Public})
			if err != nil || !res.Valid {
				t.Fatalf("engine after bad input: %v %+v", err, res)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	c := open(t)
	fx := build(t, "transfer", 3, ecc.BLS12_377, snarkclient.Plonk)
	res, err := snarkclient.New(c).Check(ctx(t), "", fx.ccs, fx.wit)
	if err != nil || !res.Satisfied {
		t.Fatalf("check of a good witness: %v %+v", err, res)
	}
	bad := bytes.Clone(fx.wit)
	bad[20] ^= 1 // a public input
	res, err = snarkclient.New(c).Check(ctx(t), "", fx.ccs, bad)
	if err != nil {
		t.Fatal(err)
	}
	if res.Satisfied || res.Reason == "" {
		t.Fatalf("check of a bad witness = %+v, want unsatisfied with a reason", res)
	}
}

func TestStats(t *testing.T) {
	fx := build(t, "transfer", 4, ecc.BW6_761, snarkclient.Groth16)
	st, err := snarkclient.New(open(t)).Stats(ctx(t), "", fx.ccs)
	if err != nil {
		t.Fatal(err)
	}
	if st.Curve != "bw6-761" || st.Scheme != snarkclient.Groth16 || st.PublicVariables != 3 || st.Constraints == 0 || st.GnarkVersion != "0.15.0" {
		t.Fatalf("stats = %+v", st)
	}
}

// TestKeysStayResident: after setup the engine proves without any upload,
// and the client never needs the key bytes again.
func TestKeysStayResident(t *testing.T) {
	c := open(t)
	fx := build(t, "mimc", 3, ecc.BN254, snarkclient.Groth16)
	keys, err := snarkclient.New(c).Setup(ctx(t), snarkclient.SetupRequest{CCS: fx.ccs, Scheme: snarkclient.Groth16})
	if err != nil {
		t.Fatal(err)
	}
	byDigest := func(a artifact.Artifact) artifact.Artifact { return artifact.Artifact{Digest: a.Digest} }
	p, err := snarkclient.New(c).Prove(ctx(t), snarkclient.ProveRequest{CCS: byDigest(fx.ccs), PK: byDigest(keys.PK), Witness: fx.wit})
	if err != nil {
		t.Fatalf("prove by digest only: %v", err)
	}
	res, err := snarkclient.New(c).Verify(ctx(t), snarkclient.VerifyRequest{VK: byDigest(keys.VK), Proof: p.Proof, Public: p.Public})
	if err != nil || !res.Valid {
		t.Fatalf("verify by digest only: %v %+v", err, res)
	}
	_, err = snarkclient.New(open(t)).Prove(ctx(t), snarkclient.ProveRequest{CCS: byDigest(fx.ccs), PK: byDigest(keys.PK), Witness: fx.wit})
	if err == nil || !strings.Contains(err.Error(), "no bytes") {
		t.Fatalf("prove by digest on an engine without the keys: got %v", err)
	}
}

// TestCancelQueued: a prove waiting behind another is abandoned as soon as
// its caller gives up, and the engine goes on.
func TestCancelQueued(t *testing.T) {
	c := open(t)
	fx := build(t, "mimc", circuits.SizeForConstraints(ecc.BN254, 1<<14), ecc.BN254, snarkclient.Groth16)
	keys, err := snarkclient.New(c).Setup(ctx(t), snarkclient.SetupRequest{CCS: fx.ccs, Scheme: snarkclient.Groth16})
	if err != nil {
		t.Fatal(err)
	}
	long := make(chan error, 1)
	go func() {
		_, err := snarkclient.New(c).Prove(ctx(t), snarkclient.ProveRequest{CCS: fx.ccs, PK: keys.PK, Witness: fx.wit})
		long <- err
	}()
	time.Sleep(20 * time.Millisecond)
	short, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = snarkclient.New(c).Prove(short, snarkclient.ProveRequest{CCS: fx.ccs, PK: keys.PK, Witness: fx.wit})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("queued prove with an expired context: got %v, want DeadlineExceeded", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("cancel took %s", took)
	}
	// The client gave up on its own deadline whatever the engine did; check
	// the engine dropped the queued prove: while the long prove still runs,
	// the engine must count one call in flight, not two.
	for {
		h, err := c.Health(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-long:
			t.Fatalf("the long prove ended (%v) while the engine still counted %d calls in flight: the abandoned prove stayed queued", err, h.GetInFlight()+1)
		default:
		}
		if h.GetInFlight() == 1 {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := <-long; err != nil {
		t.Fatalf("the running prove: %v", err)
	}
}

func TestRecursive(t *testing.T) {
	if testing.Short() {
		t.Skip("BW6-761 setup takes ~15 s")
	}
	c := open(t)
	fx := build(t, "recursive", 2, ecc.BW6_761, snarkclient.Groth16)
	keys, err := snarkclient.New(c).Setup(ctx(t), snarkclient.SetupRequest{CCS: fx.ccs, Scheme: snarkclient.Groth16})
	if err != nil {
		t.Fatal(err)
	}
	p, err := snarkclient.New(c).Prove(ctx(t), snarkclient.ProveRequest{CCS: fx.ccs, PK: keys.PK, Witness: fx.wit})
	if err != nil {
		t.Fatal(err)
	}
	res, err := snarkclient.New(c).Verify(ctx(t), snarkclient.VerifyRequest{VK: keys.VK, Proof: p.Proof, Public: p.Public})
	if err != nil || !res.Valid {
		t.Fatalf("recursive proof: %v %+v", err, res)
	}
}

// TestSpawnedEngine runs one setup → prove → verify through a real engine
// process to show the spawned path gives what the in-process one does.
func TestSpawnedEngine(t *testing.T) {
	c := enginetest.Spawn(t, "snark")
	fx := build(t, "mimc", 3, ecc.BN254, snarkclient.Plonk)
	keys, err := snarkclient.New(c).Setup(ctx(t), snarkclient.SetupRequest{CCS: fx.ccs, Scheme: snarkclient.Plonk, DevSRS: true})
	if err != nil {
		t.Fatal(err)
	}
	local, err := snarkclient.New(open(t)).Setup(ctx(t), snarkclient.SetupRequest{CCS: fx.ccs, Scheme: snarkclient.Plonk, DevSRS: true})
	if err != nil {
		t.Fatal(err)
	}
	if keys.VK.Digest != local.VK.Digest {
		t.Fatal("PLONK vk from a spawned engine differs from the in-process one")
	}
	p, err := snarkclient.New(c).Prove(ctx(t), snarkclient.ProveRequest{CCS: fx.ccs, PK: keys.PK, Witness: fx.wit})
	if err != nil {
		t.Fatal(err)
	}
	res, err := snarkclient.New(open(t)).Verify(ctx(t), snarkclient.VerifyRequest{VK: local.VK, Proof: p.Proof, Public: p.Public})
	if err != nil || !res.Valid {
		t.Fatalf("spawned engine's proof verified in-process: %v %+v", err, res)
	}
}

// TestBudgetCountsDecodedForms: what the engine holds resident after a
// setup and a prove is its artifacts' bytes and their decoded forms, all
// under one budget; a budget too small for a decoded key refuses the call
// as RESOURCE_EXHAUSTED, and the engine goes on.
func TestBudgetCountsDecodedForms(t *testing.T) {
	c := open(t)
	fx := build(t, "mimc", 3, ecc.BN254, snarkclient.Groth16)
	keys, err := snarkclient.New(c).Setup(ctx(t), snarkclient.SetupRequest{CCS: fx.ccs, Scheme: snarkclient.Groth16})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := snarkclient.New(c).Prove(ctx(t), snarkclient.ProveRequest{CCS: fx.ccs, PK: keys.PK, Witness: fx.wit}); err != nil {
		t.Fatal(err)
	}
	h, err := c.Health(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	raw := uint64(len(fx.ccs.Data) + len(keys.PK.Data) + len(keys.VK.Data))
	t.Logf("raw artifacts %d bytes, resident %d bytes", raw, h.GetResidentBytes())
	if h.GetResidentBytes() < raw*3/2 {
		t.Fatalf("resident %d bytes for %d bytes of artifacts: decoded forms are not counted", h.GetResidentBytes(), raw)
	}

	cfg := snark.Config(nil)
	cfg.MaxResidentBytes = raw + 1024 // the bytes fit, their decoded forms do not
	small := enginetest.InProcess(t, cfg)
	_, err = snarkclient.New(small).Prove(ctx(t), snarkclient.ProveRequest{CCS: fx.ccs, PK: keys.PK, Witness: fx.wit})
	if err == nil || !strings.Contains(err.Error(), "ResourceExhausted") {
		t.Fatalf("prove with a budget below the decoded key: got %v, want ResourceExhausted", err)
	}
	if _, err := small.Health(ctx(t)); err != nil {
		t.Fatalf("engine after a refused prove: %v", err)
	}
}

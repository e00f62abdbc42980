package snark

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/backend"
	"github.com/consensys/gnark/backend/groth16"
	"github.com/consensys/gnark/backend/plonk"
	"github.com/consensys/gnark/backend/witness"
	"google.golang.org/grpc"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/engine/host"
	"github.com/proofd/proofd/internal/gnarkio"
	"github.com/proofd/proofd/proto/enginev1"
)

// Config is the host configuration that serves this engine.
func Config(log *slog.Logger) host.Config {
	return host.Config{
		Kind:          "snark",
		EngineVersion: "proofd snark engine, gnark " + gnarkVersion(),
		Services:      []string{enginev1.Snark_ServiceDesc.ServiceName},
		Register: func(s *grpc.Server, store *host.Store) {
			RouteGnarkLog()
			enginev1.RegisterSnarkServer(s, &server{store: store, log: log})
		},
		Logger: log,
	}
}

func gnarkVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == "github.com/consensys/gnark" {
				return m.Version
			}
		}
	}
	return "unknown"
}

type server struct {
	enginev1.UnimplementedSnarkServer
	store *host.Store
	log   *slog.Logger
}

// prover is a decoded proving key.
type prover struct {
	groth16 groth16.ProvingKey
	plonk   plonk.ProvingKey
}

// need returns MissingArtifacts for every digest the store lacks, so the
// client uploads them all in one round. It pins those it has for the
// lease: decoding one of a call's inputs must not evict another.
func (s *server) need(l *host.Lease, fields map[string][]byte) ([]artifact.Digest, error) {
	var missing []artifact.Digest
	var out []artifact.Digest
	for _, name := range []string{"ccs", "pk", "vk", "srs"} {
		raw, ok := fields[name]
		if !ok {
			continue
		}
		d, err := artifact.Parse(name, raw)
		if err != nil {
			return nil, host.BadInput(name, err.Error())
		}
		if _, ok := l.Bytes(d); !ok {
			missing = append(missing, d)
		}
		out = append(out, d)
	}
	if len(missing) > 0 {
		return nil, host.Missing(missing...)
	}
	return out, nil
}

func (s *server) circuit(l *host.Lease, d artifact.Digest) (*circuit, error) {
	v, missing, err := l.Decoded(d, "ccs", func(b []byte) (any, error) { return decodeCCS(b) })
	if missing {
		return nil, host.Missing(d)
	}
	if err != nil {
		return nil, host.InputStatus("ccs", err)
	}
	return v.(*circuit), nil
}

func (s *server) prover(l *host.Lease, d artifact.Digest, c *circuit) (*prover, error) {
	v, missing, err := l.Decoded(d, "pk", func(b []byte) (any, error) {
		p := &prover{}
		if c.scheme == "groth16" {
			p.groth16 = groth16.NewProvingKey(c.curve)
			if err := gnarkio.UnsafeReadAll(p.groth16, b); err != nil {
				return nil, fmt.Errorf("not a %s Groth16 proving key: %v", CurveName(c.curve), err)
			}
			return p, nil
		}
		p.plonk = plonk.NewProvingKey(c.curve)
		if err := gnarkio.UnsafeReadAll(p.plonk, b); err != nil {
			return nil, fmt.Errorf("not a %s PLONK proving key: %v", CurveName(c.curve), err)
		}
		return p, nil
	})
	if missing {
		return nil, host.Missing(d)
	}
	if err != nil {
		return nil, host.InputStatus("pk", err)
	}
	return v.(*prover), nil
}

func (s *server) verifier(l *host.Lease, d artifact.Digest) (*verifier, error) {
	v, missing, err := l.Decoded(d, "vk", func(b []byte) (any, error) { return decodeVK(b) })
	if missing {
		return nil, host.Missing(d)
	}
	if err != nil {
		return nil, host.InputStatus("vk", err)
	}
	return v.(*verifier), nil
}

func (s *server) Setup(ctx context.Context, req *enginev1.SetupRequest) (*enginev1.SetupResponse, error) {
	fields := map[string][]byte{"ccs": req.GetCcs()}
	if len(req.GetSrs()) > 0 {
		fields["srs"] = req.GetSrs()
	}
	// Everything this call uses stays resident until it returns.
	lease := s.store.Lease()
	defer lease.Release()
	ds, err := s.need(lease, fields)
	if err != nil {
		return nil, err
	}
	sw := host.NewStopwatch()
	c, err := s.circuit(lease, ds[0])
	if err != nil {
		return nil, err
	}
	sw.Lap("load_ccs")
	want := strings.ToLower(req.GetScheme().String())
	if want != c.scheme {
		return nil, host.BadInput("scheme", fmt.Sprintf("the circuit is a %s constraint system; set it up with %s, not %s", systemName(c.scheme), c.scheme, want))
	}
	release, err := acquireHeavy(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	sw.Lap("queue")

	var pkBuf, vkBuf bytes.Buffer
	var warnings []string
	p := &prover{}
	if c.scheme == "groth16" {
		pk, vk, err := groth16.Setup(c.cs)
		if err != nil {
			return nil, host.BadInput("ccs", "groth16 setup: "+err.Error())
		}
		sw.Lap("setup")
		p.groth16 = pk
		if _, err := pk.WriteRawTo(&pkBuf); err != nil {
			return nil, fmt.Errorf("encode proving key: %w", err)
		}
		if _, err := vk.WriteTo(&vkBuf); err != nil {
			return nil, fmt.Errorf("encode verifying key: %w", err)
		}
	} else {
		canonical, lagrange, warn, err := s.srsFor(lease, c, ds, req.GetDevSrs())
		if err != nil {
			return nil, err
		}
		warnings = append(warnings, warn...)
		sw.Lap("srs")
		if err := checkCtx(ctx); err != nil {
			return nil, err
		}
		pk, vk, err := plonk.Setup(c.cs, canonical, lagrange)
		if err != nil {
			return nil, host.BadInput("srs", "plonk setup: "+err.Error())
		}
		sw.Lap("setup")
		p.plonk = pk
		if _, err := pk.WriteRawTo(&pkBuf); err != nil {
			return nil, fmt.Errorf("encode proving key: %w", err)
		}
		if _, err := vk.WriteTo(&vkBuf); err != nil {
			return nil, fmt.Errorf("encode verifying key: %w", err)
		}
	}
	sw.Lap("encode_keys")
	pkArt, vkArt := artifact.New(pkBuf.Bytes()), artifact.New(vkBuf.Bytes())
	if err := s.store.Put(pkArt.Digest, "pk", pkArt.Data); err != nil {
		return nil, host.InputStatus("pk", err)
	}
	if err := s.store.Put(vkArt.Digest, "vk", vkArt.Data); err != nil {
		return nil, host.InputStatus("vk", err)
	}
	// Keep the keys decoded: the next prove must not pay for decoding them.
	if _, _, err := lease.Decoded(pkArt.Digest, "pk", func([]byte) (any, error) { return p, nil }); err != nil {
		return nil, host.InputStatus("pk", err)
	}
	return &enginev1.SetupResponse{
		Pk: pkArt.Digest[:], PkSize: uint64(len(pkArt.Data)),
		Vk: vkArt.Digest[:], VkBytes: vkArt.Data,
		Timings: sw.Timings, Warnings: warnings,
	}, nil
}

func systemName(scheme string) string {
	if scheme == "groth16" {
		return "R1CS"
	}
	return "SparseR1CS"
}

func (s *server) Prove(ctx context.Context, req *enginev1.ProveRequest) (*enginev1.ProveResponse, error) {
	// Everything this call uses stays resident until it returns.
	lease := s.store.Lease()
	defer lease.Release()
	ds, err := s.need(lease, map[string][]byte{"ccs": req.GetCcs(), "pk": req.GetPk()})
	if err != nil {
		return nil, err
	}
	sw := host.NewStopwatch()
	c, err := s.circuit(lease, ds[0])
	if err != nil {
		return nil, err
	}
	sw.Lap("load_ccs")
	p, err := s.prover(lease, ds[1], c)
	if err != nil {
		return nil, err
	}
	if p.groth16 != nil && p.groth16.CurveID() != c.curve {
		return nil, host.BadInput("pk", fmt.Sprintf("the proving key is for %s, the circuit for %s", CurveName(p.groth16.CurveID()), CurveName(c.curve)))
	}
	sw.Lap("load_pk")
	popts, _, err := targetOptions(req.GetTarget(), c.scheme, c.curve)
	if err != nil {
		return nil, host.BadInput("target", err.Error())
	}
	w, err := decodeWitness(req.GetWitness(), c.curve, c.nbPublic(), c.cs.GetNbSecretVariables())
	if err != nil {
		return nil, host.BadInput("witness", err.Error())
	}
	sw.Lap("decode_witness")
	if err := checkCtx(ctx); err != nil {
		return nil, err
	}
	release, err := acquireHeavy(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	sw.Lap("queue")
	gnarkLog.take("prover done")
	start := time.Now()
	proof, err := proveGuarded(c, p, w, popts)
	if err != nil {
		return nil, host.BadInput("witness", err.Error())
	}
	total := time.Since(start)
	// gnark's Groth16 prover logs the time after solving; PLONK solves
	// concurrently with its first rounds, so there is no split to report.
	if post, ok := gnarkLog.take("prover done"); ok && post <= total && c.scheme == "groth16" {
		sw.Add("solve", total-post)
		sw.Add("prove", post)
	} else {
		sw.Add("solve_and_prove", total)
	}
	sw.Restart()
	var proofBuf bytes.Buffer
	if _, err := proof.WriteTo(&proofBuf); err != nil {
		return nil, fmt.Errorf("encode proof: %w", err)
	}
	pub, err := w.Public()
	if err != nil {
		return nil, fmt.Errorf("public witness: %w", err)
	}
	pubBytes, err := pub.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("encode public witness: %w", err)
	}
	sw.Lap("encode")
	return &enginev1.ProveResponse{Proof: proofBuf.Bytes(), PublicWitness: pubBytes, Timings: sw.Timings}, nil
}

// proveGuarded calls gnark's prover; a mismatched key can make it panic.
func proveGuarded(c *circuit, p *prover, w witness.Witness, opts []backend.ProverOption) (proof io.WriterTo, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("prover failed (is the proving key for this circuit?): %v", r)
		}
	}()
	if c.scheme == "groth16" {
		if p.groth16 == nil {
			return nil, fmt.Errorf("the proving key is not a Groth16 key")
		}
		return groth16.Prove(c.cs, p.groth16, w, opts...)
	}
	if p.plonk == nil {
		return nil, fmt.Errorf("the proving key is not a PLONK key")
	}
	return plonk.Prove(c.cs, p.plonk, w, opts...)
}

func (s *server) Verify(ctx context.Context, req *enginev1.VerifyRequest) (*enginev1.VerifyResponse, error) {
	// Everything this call uses stays resident until it returns.
	lease := s.store.Lease()
	defer lease.Release()
	ds, err := s.need(lease, map[string][]byte{"vk": req.GetVk()})
	if err != nil {
		return nil, err
	}
	sw := host.NewStopwatch()
	v, err := s.verifier(lease, ds[0])
	if err != nil {
		return nil, err
	}
	sw.Lap("load_vk")
	_, vopts, err := targetOptions(req.GetTarget(), v.scheme, v.curve)
	if err != nil {
		return nil, host.BadInput("target", err.Error())
	}
	pub, err := decodeWitness(req.GetPublicWitness(), v.curve, v.nbPublic, -1)
	if err != nil {
		return nil, host.BadInput("public", err.Error())
	}
	// The proof is what is being judged: bytes that do not even decode to
	// one are an invalid proof, not a failure to verify.
	proof, err := decodeProof(req.GetProof(), v)
	sw.Lap("decode")
	if err != nil {
		return &enginev1.VerifyResponse{Valid: false, Reason: "proof does not decode: " + err.Error(), Timings: sw.Timings}, nil
	}
	if v.scheme == "groth16" {
		err = groth16.Verify(proof.(groth16.Proof), v.groth16, pub, vopts...)
	} else {
		err = plonk.Verify(proof.(plonk.Proof), v.plonk, pub, vopts...)
	}
	sw.Lap("verify")
	if err != nil {
		return &enginev1.VerifyResponse{Valid: false, Reason: err.Error(), Timings: sw.Timings}, nil
	}
	return &enginev1.VerifyResponse{Valid: true, Timings: sw.Timings}, nil
}

func (s *server) Stats(ctx context.Context, req *enginev1.StatsRequest) (*enginev1.StatsResponse, error) {
	// Everything this call uses stays resident until it returns.
	lease := s.store.Lease()
	defer lease.Release()
	ds, err := s.need(lease, map[string][]byte{"ccs": req.GetCcs()})
	if err != nil {
		return nil, err
	}
	sw := host.NewStopwatch()
	c, err := s.circuit(lease, ds[0])
	if err != nil {
		return nil, err
	}
	sw.Lap("load_ccs")
	scheme := enginev1.Scheme_GROTH16
	if c.scheme == "plonk" {
		scheme = enginev1.Scheme_PLONK
	}
	return &enginev1.StatsResponse{
		Curve:             CurveName(c.curve),
		Scheme:            scheme,
		Constraints:       uint64(c.cs.GetNbConstraints()),
		PublicVariables:   uint64(c.nbPublic()),
		SecretVariables:   uint64(c.cs.GetNbSecretVariables()),
		InternalVariables: uint64(c.cs.GetNbInternalVariables()),
		GnarkVersion:      c.gnark,
		Timings:           sw.Timings,
	}, nil
}

func (s *server) Check(ctx context.Context, req *enginev1.CheckRequest) (*enginev1.CheckResponse, error) {
	// Everything this call uses stays resident until it returns.
	lease := s.store.Lease()
	defer lease.Release()
	ds, err := s.need(lease, map[string][]byte{"ccs": req.GetCcs()})
	if err != nil {
		return nil, err
	}
	sw := host.NewStopwatch()
	c, err := s.circuit(lease, ds[0])
	if err != nil {
		return nil, err
	}
	sw.Lap("load_ccs")
	w, err := decodeWitness(req.GetWitness(), c.curve, c.nbPublic(), c.cs.GetNbSecretVariables())
	if err != nil {
		return nil, host.BadInput("witness", err.Error())
	}
	sw.Lap("decode_witness")
	err = solveGuarded(c, w)
	sw.Lap("solve")
	if err != nil {
		return &enginev1.CheckResponse{Satisfied: false, Reason: err.Error(), Timings: sw.Timings}, nil
	}
	return &enginev1.CheckResponse{Satisfied: true, Timings: sw.Timings}, nil
}

func solveGuarded(c *circuit, w witness.Witness) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("solver failed: %v", r)
		}
	}()
	return c.cs.IsSolved(w)
}

func (s *server) Solidity(ctx context.Context, req *enginev1.SolidityRequest) (*enginev1.SolidityResponse, error) {
	// Everything this call uses stays resident until it returns.
	lease := s.store.Lease()
	defer lease.Release()
	ds, err := s.need(lease, map[string][]byte{"vk": req.GetVk()})
	if err != nil {
		return nil, err
	}
	sw := host.NewStopwatch()
	v, err := s.verifier(lease, ds[0])
	if err != nil {
		return nil, err
	}
	sw.Lap("load_vk")
	if v.curve != ecc.BN254 {
		return nil, host.BadInput("vk", fmt.Sprintf("Solidity verifiers exist for bn254 keys only; this is a %s key", CurveName(v.curve)))
	}
	var buf bytes.Buffer
	if v.scheme == "groth16" {
		err = v.groth16.ExportSolidity(&buf)
	} else {
		err = v.plonk.ExportSolidity(&buf)
	}
	if err != nil {
		return nil, fmt.Errorf("export solidity: %w", err)
	}
	sw.Lap("export")
	return &enginev1.SolidityResponse{Source: buf.String(), Timings: sw.Timings}, nil
}

package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/bb/bbapi"
	"github.com/proofd/proofd/bb/crs"
	"github.com/proofd/proofd/bb/noirfile"
	"github.com/proofd/proofd/engine"
	"github.com/proofd/proofd/engine/noirclient"
	"github.com/proofd/proofd/engine/pool"
)

// BBConfig configures the bb benchmark.
type BBConfig struct {
	// Spawn starts a proofd engine process; the bb engine's flags are
	// appended (--kind bb --bb BB --bb-threads Threads).
	Spawn engine.SpawnOptions
	// BB is the bb binary every path runs.
	BB string
	// Threads is bb's thread count on every path (0: bb's default, one
	// per core).
	Threads int
	// NoirDir holds the fixtures (testdata/noir): tiny and hashchain.
	NoirDir string
	// Quick shrinks every count, for tests.
	Quick bool
	// Progress receives one line per round; nil for none.
	Progress io.Writer
}

// BB measures Noir proofs with the real bb along four paths, alternated
// call by call within each round: (a) the bb CLI per call, reading and
// writing files (bb verify, bb prove); (b) a fresh bb engine per call (a
// pool of size 0: proofd engine process, bb child, upload, call); (c) a
// pool of two warm bb engines; (d) Go speaking msgpack to a warm bb child
// (bbapi.Process), the floor. Verify and prove of tiny, and verify of
// hashchain (2^15). And bb's start-up: bbapi.Start to its first reply (a
// stats call on tiny).
//
// A ratio is computed per round from the round's medians, and reported as
// the median over rounds with its smallest and largest round (name_min,
// name_max). Every path starts from the same bytes: the engine paths and
// the floor from ACIR, witness, vk, proof and public-input bytes in memory,
// the CLI from the same bytes in files (which is how the CLI is used).
func BB(ctx context.Context, cfg BBConfig) (*Report, error) {
	progress := func(format string, args ...any) {
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, format+"\n", args...)
		}
	}
	r := bbReps{rounds: 5, verify: 30, verifyCLI: 6, verifyFresh: 4, prove: 8, proveCLI: 4, hash: 6, hashCLI: 3, starts: 2}
	if cfg.Quick {
		r = bbReps{rounds: 1, verify: 2, verifyCLI: 1, verifyFresh: 1, prove: 1, proveCLI: 1, hash: 1, hashCLI: 1, starts: 1}
	}
	work, err := os.MkdirTemp("", "proofd-bench-bb-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	crsDir := filepath.Join(work, "crs")
	if err := crs.WriteDir(crsDir); err != nil {
		return nil, err
	}

	direct, err := bbapi.Start(bbapi.Config{Path: cfg.BB, CRSDir: crsDir, Threads: cfg.Threads})
	if err != nil {
		return nil, err
	}
	defer direct.Close()
	tiny, err := newBBFixture(ctx, direct, filepath.Join(cfg.NoirDir, "tiny"), filepath.Join(work, "tiny"))
	if err != nil {
		return nil, err
	}
	hash, err := newBBFixture(ctx, direct, filepath.Join(cfg.NoirDir, "hashchain"), filepath.Join(work, "hashchain"))
	if err != nil {
		return nil, err
	}

	opts := cfg.Spawn
	opts.Args = append(slices.Clone(opts.Args), "--kind", "bb", "--bb", cfg.BB, "--bb-threads", strconv.Itoa(cfg.Threads))
	start := func(ctx context.Context) (*engine.Conn, error) { return engine.Spawn(ctx, opts) }
	pooled, err := pool.New(pool.Config{PoolSize: 2, Start: start})
	if err != nil {
		return nil, err
	}
	defer pooled.Close(context.Background())
	fresh, err := pool.New(pool.Config{Start: start})
	if err != nil {
		return nil, err
	}
	defer fresh.Close(context.Background())
	// Start both pooled engines and make the circuits and keys resident.
	for _, fx := range []*bbFixture{tiny, hash} {
		if _, err := concurrently(2, 4, fx.viaPool(ctx, pooled, fx.verifyOn)); err != nil {
			return nil, err
		}
		if _, err := concurrently(2, 2, fx.viaPool(ctx, pooled, fx.proveOn)); err != nil {
			return nil, err
		}
	}
	cli := func(args ...string) func() error {
		return func() error { return runBB(cfg.BB, cfg.Threads, append(args, "-c", crsDir)...) }
	}
	startBB := func() error {
		p, err := bbapi.Start(bbapi.Config{Path: cfg.BB, CRSDir: crsDir, Threads: cfg.Threads})
		if err != nil {
			return err
		}
		defer p.Close()
		_, err = p.Stats(ctx, &bbapi.CircuitStats{Circuit: bbapi.CircuitInput{Name: "tiny", Bytecode: tiny.acir.Data},
			Settings: bbapi.Settings{OracleHashType: bbapi.OracleHashPoseidon2}})
		return err
	}
	cases := []struct {
		name string
		reps int
		fn   func() error
	}{
		{"verify tiny direct", r.verify, func() error { return tiny.verifyDirect(ctx, direct) }},
		{"verify tiny pooled", r.verify, tiny.viaPool(ctx, pooled, tiny.verifyOn)},
		{"verify tiny cli", r.verifyCLI, cli("verify", "-k", tiny.files.vk, "-p", tiny.files.proof, "-i", tiny.files.public)},
		{"verify tiny fresh", r.verifyFresh, tiny.viaPool(ctx, fresh, tiny.verifyOn)},
		{"prove tiny direct", r.prove, func() error { return tiny.proveDirect(ctx, direct) }},
		{"prove tiny pooled", r.prove, tiny.viaPool(ctx, pooled, tiny.proveOn)},
		{"prove tiny cli", r.proveCLI, cli("prove", "-b", tiny.files.circuit, "-w", tiny.files.witness, "-k", tiny.files.vk, "-o", filepath.Join(work, "tiny", "cliout"))},
		{"verify hashchain direct", r.hash, func() error { return hash.verifyDirect(ctx, direct) }},
		{"verify hashchain pooled", r.hash, hash.viaPool(ctx, pooled, hash.verifyOn)},
		{"verify hashchain cli", r.hashCLI, cli("verify", "-k", hash.files.vk, "-p", hash.files.proof, "-i", hash.files.public)},
		{"bb start to first reply", r.starts, startBB},
	}
	maxReps := 0
	for _, c := range cases {
		maxReps = max(maxReps, c.reps)
	}
	rep := newReport("bb")
	s := samples{}
	perRound := map[string][]float64{}
	for round := range r.rounds {
		progress("bench bb: round %d/%d: %d cases alternated, up to %d calls each", round+1, r.rounds, len(cases), maxReps)
		rs := samples{}
		for i := range maxReps {
			for _, c := range cases {
				if i >= c.reps {
					continue
				}
				if err := timeit(rs, c.name, c.fn); err != nil {
					return nil, err
				}
			}
		}
		for name, cs := range bbRatios {
			perRound[name] = append(perRound[name], rs.median(cs[0])/rs.median(cs[1]))
		}
		perRound["bb_start_ms"] = append(perRound["bb_start_ms"], rs.median("bb start to first reply"))
		for c, d := range rs {
			s[c] = append(s[c], d...)
		}
	}
	for name, v := range perRound {
		rep.spread(name, v)
	}
	order := make([]string, len(cases))
	for i, c := range cases {
		order[i] = c.name
	}
	rep.addRows(s, order)
	return rep, nil
}

// bbRatios are the reported ratios: numerator and denominator cases.
var bbRatios = map[string][2]string{
	"pooled_over_direct_verify":           {"verify tiny pooled", "verify tiny direct"},
	"pooled_over_direct_prove":            {"prove tiny pooled", "prove tiny direct"},
	"fresh_over_pooled_verify":            {"verify tiny fresh", "verify tiny pooled"},
	"cli_over_pooled_verify":              {"verify tiny cli", "verify tiny pooled"},
	"cli_over_pooled_prove":               {"prove tiny cli", "prove tiny pooled"},
	"pooled_over_direct_verify_hashchain": {"verify hashchain pooled", "verify hashchain direct"},
	"cli_over_pooled_verify_hashchain":    {"verify hashchain cli", "verify hashchain pooled"},
}

// bbReps are the calls per case per round.
type bbReps struct {
	rounds, verify, verifyCLI, verifyFresh, prove, proveCLI, hash, hashCLI, starts int
}

// bbFixture is a Noir fixture with a proof bb made of it, in memory and in
// files for the CLI.
type bbFixture struct {
	acir          artifact.Artifact
	witness       []byte
	vk            artifact.Artifact
	proof, public []byte
	files         struct{ circuit, witness, vk, proof, public string }
}

// newBBFixture reads fixture dir (circuit.json, witness.gz), proves it
// once with p and writes the CLI's files into work.
func newBBFixture(ctx context.Context, p *bbapi.Process, dir, work string) (*bbFixture, error) {
	fx := &bbFixture{}
	fx.files.circuit, fx.files.witness = filepath.Join(dir, "circuit.json"), filepath.Join(dir, "witness.gz")
	acir, err := noirfile.Circuit(fx.files.circuit)
	if err != nil {
		return nil, err
	}
	if fx.witness, err = noirfile.Witness(fx.files.witness); err != nil {
		return nil, err
	}
	fx.acir = artifact.New(acir)
	out, err := p.Prove(ctx, &bbapi.CircuitProve{Circuit: bbapi.CircuitInput{Name: filepath.Base(dir), Bytecode: acir}, Witness: fx.witness,
		Settings: bbapi.Settings{OracleHashType: bbapi.OracleHashPoseidon2}})
	if err != nil {
		return nil, fmt.Errorf("prove %s: %w", dir, err)
	}
	fx.vk, fx.proof, fx.public = artifact.New(out.Vk.Bytes), joinFields(out.Proof), joinFields(out.PublicInputs)
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	fx.files.vk, fx.files.proof, fx.files.public = filepath.Join(work, "vk"), filepath.Join(work, "proof"), filepath.Join(work, "public_inputs")
	for path, b := range map[string][]byte{fx.files.vk: fx.vk.Data, fx.files.proof: fx.proof, fx.files.public: fx.public} {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return nil, err
		}
	}
	return fx, nil
}

func (fx *bbFixture) viaPool(ctx context.Context, f *pool.Factory, call func(context.Context, *engine.Conn) error) func() error {
	return func() error {
		return f.Do(ctx, []artifact.Digest{fx.acir.Digest, fx.vk.Digest}, func(c *engine.Conn) error { return call(ctx, c) })
	}
}

func (fx *bbFixture) verifyOn(ctx context.Context, c *engine.Conn) error {
	res, err := noirclient.New(c).Verify(ctx, noirclient.VerifyRequest{VK: fx.vk, Proof: fx.proof, Public: fx.public})
	if err != nil {
		return err
	}
	if !res.Valid {
		return fmt.Errorf("engine judged a valid proof invalid: %s", res.Reason)
	}
	return nil
}

func (fx *bbFixture) proveOn(ctx context.Context, c *engine.Conn) error {
	_, err := noirclient.New(c).Prove(ctx, noirclient.ProveRequest{Circuit: fx.acir, Witness: fx.witness})
	return err
}

// verifyDirect is the floor: what Go holding a warm bb child does with
// proof and public-input bytes (cut into fields) and the key's bytes.
func (fx *bbFixture) verifyDirect(ctx context.Context, p *bbapi.Process) error {
	out, err := p.Verify(ctx, &bbapi.CircuitVerify{VerificationKey: fx.vk.Data, Proof: splitFields(fx.proof), PublicInputs: splitFields(fx.public),
		Settings: bbapi.Settings{OracleHashType: bbapi.OracleHashPoseidon2}})
	if err != nil {
		return err
	}
	if !out.Verified {
		return fmt.Errorf("bb judged a valid proof invalid")
	}
	return nil
}

func (fx *bbFixture) proveDirect(ctx context.Context, p *bbapi.Process) error {
	_, err := p.Prove(ctx, &bbapi.CircuitProve{Circuit: bbapi.CircuitInput{Name: "bench", Bytecode: fx.acir.Data}, Witness: fx.witness,
		Settings: bbapi.Settings{OracleHashType: bbapi.OracleHashPoseidon2}})
	return err
}

// runBB runs the bb CLI once; a failure carries bb's output.
func runBB(bb string, threads int, args ...string) error {
	cmd := exec.Command(bb, args...)
	if threads > 0 {
		cmd.Env = append(os.Environ(), "HARDWARE_CONCURRENCY="+strconv.Itoa(threads))
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("bb %s: %v\n%s", args[0], err, out)
	}
	return nil
}

func joinFields(fs []bbapi.Field) []byte {
	out := make([]byte, 0, 32*len(fs))
	for _, f := range fs {
		out = append(out, f[:]...)
	}
	return out
}

// splitFields cuts bytes the fixture made into 32-byte fields.
func splitFields(b []byte) []bbapi.Field {
	fs := make([]bbapi.Field, len(b)/32)
	for i := range fs {
		copy(fs[i][:], b[32*i:])
	}
	return fs
}

package bbengine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/bb/bbapi"
	"github.com/proofd/proofd/bb/crs"
	"github.com/proofd/proofd/engine/host"
	"github.com/proofd/proofd/proto/enginev1"
)

// Options configure the engine.
type Options struct {
	// BB is the bb binary (scripts/install-bb.sh prints where it is).
	BB string
	// Threads is bb's HARDWARE_CONCURRENCY (0: one per core).
	Threads int
	// Stderr receives bb's log (nil: discarded, but for the tail that
	// explains a death).
	Stderr io.Writer
}

// Engine is a running bb engine: its host configuration and its bb child.
type Engine struct {
	log    *slog.Logger
	bb     *bbapi.Process
	crsDir string
	store  *host.Store
	died   chan struct{}

	stopOnce sync.Once
	stopped  chan struct{}
}

// New starts bb and returns the engine; serve Config with host.NewServer.
// The engine's process should exit when Died is closed.
func New(log *slog.Logger, opts Options) (*Engine, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.BB == "" {
		return nil, errors.New("bb engine: no bb binary (--bb PATH; scripts/install-bb.sh installs one)")
	}
	removeStaleCRS(log)
	dir, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", crsDirPrefix, os.Getpid()))
	if err != nil {
		return nil, fmt.Errorf("bb engine: %w", err)
	}
	if err := crs.WriteDir(dir); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("bb engine: CRS: %w", err)
	}
	p, err := bbapi.Start(bbapi.Config{Path: opts.BB, CRSDir: dir, Threads: opts.Threads, Stderr: opts.Stderr})
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("bb engine: %w", err)
	}
	e := &Engine{log: log, bb: p, crsDir: dir, died: make(chan struct{}), stopped: make(chan struct{})}
	go func() {
		select {
		case <-p.Exited():
			log.Error("bb exited: the engine stops", "pid", p.Pid())
			close(e.died)
		case <-e.stopped:
		}
	}()
	return e, nil
}

// crsDirPrefix names the CRS directories engines make in os.TempDir():
// proofd-bb-crs-<engine pid>-<random>.
const crsDirPrefix = "proofd-bb-crs-"

// removeStaleCRS removes the CRS directories of engines that are gone (a
// SIGKILLed engine cannot remove its own): this user's, named for a pid
// that no longer exists. A reused pid only keeps a stale directory.
func removeStaleCRS(log *slog.Logger) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), crsDirPrefix+"*"))
	for _, dir := range dirs {
		var pid int
		if _, err := fmt.Sscanf(filepath.Base(dir), crsDirPrefix+"%d-", &pid); err != nil || pid <= 0 {
			continue
		}
		st, err := os.Stat(dir)
		if err != nil || !st.IsDir() || !ownedByMe(st) {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			log.Info("removing a stale bb CRS directory", "dir", dir, "pid", pid)
			os.RemoveAll(dir)
		}
	}
}

func ownedByMe(st os.FileInfo) bool {
	sys, ok := st.Sys().(*syscall.Stat_t)
	return ok && int(sys.Uid) == os.Getuid()
}

// Died is closed when bb exits while the engine runs.
func (e *Engine) Died() <-chan struct{} { return e.died }

// Config is the engine's host configuration.
func (e *Engine) Config() host.Config {
	return host.Config{
		Kind:          "bb",
		EngineVersion: "proofd bb engine, barretenberg bb 5.0.0 (UltraHonk)",
		Services:      []string{enginev1.Noir_ServiceDesc.ServiceName},
		Register: func(s *grpc.Server, store *host.Store) {
			e.store = store
			enginev1.RegisterNoirServer(s, &server{e: e})
		},
		Stopped: e.Stop,
		Logger:  e.log,
	}
}

// Stop shuts bb down and removes its CRS directory.
func (e *Engine) Stop() error {
	var err error
	e.stopOnce.Do(func() {
		close(e.stopped)
		err = errors.Join(e.bb.Close(), os.RemoveAll(e.crsDir))
	})
	return err
}

type server struct {
	enginev1.UnimplementedNoirServer
	e *Engine
}

// settings are bb's proof system settings for an oracle hash.
func settings(h enginev1.OracleHash) (bbapi.Settings, error) {
	switch h {
	case enginev1.OracleHash_ORACLE_HASH_POSEIDON2:
		return bbapi.Settings{OracleHashType: bbapi.OracleHashPoseidon2}, nil
	case enginev1.OracleHash_ORACLE_HASH_KECCAK:
		return bbapi.Settings{OracleHashType: bbapi.OracleHashKeccak}, nil
	}
	return bbapi.Settings{}, host.BadInput("oracle_hash", fmt.Sprintf("unknown oracle hash %d", h))
}

// bytesOf returns a resident artifact named by a request field.
func bytesOf(l *host.Lease, name string, raw []byte) (artifact.Digest, []byte, error) {
	d, err := artifact.Parse(name, raw)
	if err != nil {
		return d, nil, host.BadInput(name, err.Error())
	}
	b, ok := l.Bytes(d)
	if !ok {
		return d, nil, host.Missing(d)
	}
	return d, b, nil
}

// failed turns a bb error into the call's status: bb's ErrorResponse is
// bad input naming input; a death is UNAVAILABLE (the engine is going).
func failed(input string, err error) error {
	var bad *bbapi.BBError
	switch {
	case errors.As(err, &bad):
		return host.BadInput(input, bad.Message)
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return status.FromContextError(err).Err()
	case errors.Is(err, bbapi.ErrDied):
		return status.Error(codes.Unavailable, err.Error())
	}
	return status.Error(codes.Internal, err.Error())
}

// stats is a circuit's bb stats, kept as its decoded form: computed once.
func (s *server) stats(ctx context.Context, l *host.Lease, d artifact.Digest) (*bbapi.CircuitInfoResponse, error) {
	v, missing, err := l.Decoded(d, "bb-stats", func(b []byte) (any, error) {
		return s.e.bb.Stats(ctx, &bbapi.CircuitStats{Circuit: bbapi.CircuitInput{Name: d.Short(), Bytecode: b},
			Settings: bbapi.Settings{OracleHashType: bbapi.OracleHashPoseidon2}})
	})
	if missing {
		return nil, host.Missing(d)
	}
	if err != nil {
		return nil, failed("circuit", err)
	}
	return v.(*bbapi.CircuitInfoResponse), nil
}

// circuit is a request's resident circuit, checked to fit the CRS.
func (s *server) circuit(ctx context.Context, l *host.Lease, raw []byte) (bbapi.CircuitInput, error) {
	d, b, err := bytesOf(l, "circuit", raw)
	if err != nil {
		return bbapi.CircuitInput{}, err
	}
	st, err := s.stats(ctx, l, d)
	if err != nil {
		return bbapi.CircuitInput{}, err
	}
	if st.NumGatesDyadic > crs.MaxDyadicSize {
		return bbapi.CircuitInput{}, host.BadInput("circuit", fmt.Sprintf("%d gates, dyadic size %d: over the %d this engine's CRS serves (bb would try to download more points)",
			st.NumGates, st.NumGatesDyadic, crs.MaxDyadicSize))
	}
	return bbapi.CircuitInput{Name: d.Short(), Bytecode: b}, nil
}

// putVk keeps a key bb computed resident and returns its digest.
func (s *server) putVk(vk []byte) ([]byte, error) {
	a := artifact.New(vk)
	if err := s.e.store.Put(a.Digest, "vk", vk); err != nil {
		return nil, status.Error(codes.ResourceExhausted, fmt.Sprintf("keep the verifying key: %v", err))
	}
	return a.Digest[:], nil
}

func (s *server) Stats(ctx context.Context, req *enginev1.NoirStatsRequest) (*enginev1.NoirStatsResponse, error) {
	l := s.e.store.Lease()
	defer l.Release()
	sw := host.NewStopwatch()
	d, _, err := bytesOf(l, "circuit", req.GetCircuit())
	if err != nil {
		return nil, err
	}
	st, err := s.stats(ctx, l, d)
	if err != nil {
		return nil, err
	}
	sw.Lap("stats")
	return &enginev1.NoirStatsResponse{Gates: st.NumGates, DyadicSize: st.NumGatesDyadic, AcirOpcodes: st.NumAcirOpcodes,
		MaxDyadicSize: crs.MaxDyadicSize, Timings: sw.Timings}, nil
}

func (s *server) Prove(ctx context.Context, req *enginev1.NoirProveRequest) (*enginev1.NoirProveResponse, error) {
	l := s.e.store.Lease()
	defer l.Release()
	sw := host.NewStopwatch()
	set, err := settings(req.GetOracleHash())
	if err != nil {
		return nil, err
	}
	c, err := s.circuit(ctx, l, req.GetCircuit())
	if err != nil {
		return nil, err
	}
	sw.Lap("load")
	out, err := s.e.bb.Prove(ctx, &bbapi.CircuitProve{Circuit: c, Witness: req.GetWitness(), Settings: set})
	sw.Lap("prove")
	if err != nil {
		return nil, failed("witness", err)
	}
	vk, err := s.putVk(out.Vk.Bytes)
	if err != nil {
		return nil, err
	}
	return &enginev1.NoirProveResponse{Proof: join(out.Proof), PublicInputs: join(out.PublicInputs), Vk: vk, Timings: sw.Timings}, nil
}

func (s *server) Vk(ctx context.Context, req *enginev1.NoirVkRequest) (*enginev1.NoirVkResponse, error) {
	l := s.e.store.Lease()
	defer l.Release()
	sw := host.NewStopwatch()
	set, err := settings(req.GetOracleHash())
	if err != nil {
		return nil, err
	}
	c, err := s.circuit(ctx, l, req.GetCircuit())
	if err != nil {
		return nil, err
	}
	sw.Lap("load")
	out, err := s.e.bb.ComputeVk(ctx, &bbapi.CircuitComputeVk{Circuit: bbapi.CircuitInputNoVK{Name: c.Name, Bytecode: c.Bytecode}, Settings: set})
	sw.Lap("vk")
	if err != nil {
		return nil, failed("circuit", err)
	}
	d, err := s.putVk(out.Bytes)
	if err != nil {
		return nil, err
	}
	return &enginev1.NoirVkResponse{Vk: d, VkBytes: out.Bytes, Timings: sw.Timings}, nil
}

func (s *server) Verify(ctx context.Context, req *enginev1.NoirVerifyRequest) (*enginev1.VerifyResponse, error) {
	l := s.e.store.Lease()
	defer l.Release()
	sw := host.NewStopwatch()
	set, err := settings(req.GetOracleHash())
	if err != nil {
		return nil, err
	}
	_, vk, err := bytesOf(l, "vk", req.GetVk())
	if err != nil {
		return nil, err
	}
	public, err := split(req.GetPublicInputs())
	if err != nil {
		return nil, host.BadInput("public", err.Error())
	}
	proof, err := split(req.GetProof())
	if err != nil {
		return &enginev1.VerifyResponse{Valid: false, Reason: "proof: " + err.Error(), Timings: sw.Timings}, nil
	}
	sw.Lap("decode")
	out, err := s.e.bb.Verify(ctx, &bbapi.CircuitVerify{VerificationKey: vk, PublicInputs: public, Proof: proof, Settings: set})
	sw.Lap("verify")
	var bad *bbapi.BBError
	switch {
	case errors.As(err, &bad): // bb could not even read the proof (a point off the curve, say)
		return &enginev1.VerifyResponse{Valid: false, Reason: bad.Message, Timings: sw.Timings}, nil
	case err != nil:
		return nil, failed("vk", err)
	case !out.Verified:
		return &enginev1.VerifyResponse{Valid: false, Reason: "bb: the proof does not verify", Timings: sw.Timings}, nil
	}
	return &enginev1.VerifyResponse{Valid: true, Timings: sw.Timings}, nil
}

func (s *server) Check(ctx context.Context, req *enginev1.NoirCheckRequest) (*enginev1.CheckResponse, error) {
	l := s.e.store.Lease()
	defer l.Release()
	sw := host.NewStopwatch()
	c, err := s.circuit(ctx, l, req.GetCircuit())
	if err != nil {
		return nil, err
	}
	// bb 5.0.0 has no witness check (`bb check`: not implemented): a prove
	// that succeeds is the check.
	_, err = s.e.bb.Prove(ctx, &bbapi.CircuitProve{Circuit: c, Witness: req.GetWitness(), Settings: bbapi.Settings{OracleHashType: bbapi.OracleHashPoseidon2}})
	sw.Lap("prove")
	var bad *bbapi.BBError
	switch {
	case errors.As(err, &bad):
		return &enginev1.CheckResponse{Satisfied: false, Reason: bad.Message, Timings: sw.Timings}, nil
	case err != nil:
		return nil, failed("witness", err)
	}
	return &enginev1.CheckResponse{Satisfied: true, Timings: sw.Timings}, nil
}

func (s *server) Solidity(ctx context.Context, req *enginev1.NoirSolidityRequest) (*enginev1.SolidityResponse, error) {
	l := s.e.store.Lease()
	defer l.Release()
	sw := host.NewStopwatch()
	_, vk, err := bytesOf(l, "vk", req.GetVk())
	if err != nil {
		return nil, err
	}
	out, err := s.e.bb.SolidityVerifier(ctx, &bbapi.CircuitWriteSolidityVerifier{VerificationKey: vk, Settings: bbapi.Settings{OracleHashType: bbapi.OracleHashKeccak}})
	sw.Lap("solidity")
	if err != nil {
		return nil, failed("vk", err)
	}
	return &enginev1.SolidityResponse{Source: out.SolidityCode, Timings: sw.Timings}, nil
}

// join concatenates field elements.
func join(fs []bbapi.Field) []byte {
	out := make([]byte, 0, len(fs)*len(bbapi.Field{}))
	for _, f := range fs {
		out = append(out, f[:]...)
	}
	return out
}

// split cuts concatenated field elements.
func split(b []byte) ([]bbapi.Field, error) {
	const n = len(bbapi.Field{})
	if len(b)%n != 0 {
		return nil, fmt.Errorf("%d bytes: not a whole number of %d-byte field elements", len(b), n)
	}
	fs := make([]bbapi.Field, len(b)/n)
	for i := range fs {
		copy(fs[i][:], b[i*n:])
	}
	return fs, nil
}

package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/proofd/proofd/engine/protocol"
	"github.com/proofd/proofd/proto/enginev1"
)

// Config describes the engine to serve. Zero values get defaults in
// withDefaults; Validate reports everything wrong at once.
type Config struct {
	// Kind names the engine ("snark", "vm").
	Kind string
	// EngineVersion is free text for the handshake (build, library versions).
	EngineVersion string
	// Services lists the gRPC services Register adds, for the handshake.
	Services []string
	// Register adds the engine's services to the server; store is shared
	// with the Engine service's Upload and Download.
	Register func(s *grpc.Server, store *Store)
	// Stopped, if set, runs once the server has stopped serving, to release
	// what the engine holds (child processes, say).
	Stopped func() error

	// MaxMessageBytes bounds every single gRPC message (default 64 MiB).
	MaxMessageBytes int
	// MaxArtifactBytes bounds one uploaded artifact (default 4 GiB).
	MaxArtifactBytes uint64
	// MaxResidentBytes is the artifact store's budget (default 16 GiB).
	MaxResidentBytes uint64
	// ShutdownGrace is how long in-flight calls may run after Shutdown
	// before they are cut off (default 30 s).
	ShutdownGrace time.Duration

	// SocketPath, when set, is where to listen. Otherwise the socket goes in
	// a fresh private directory under SocketDir (default os.TempDir()).
	SocketPath string
	SocketDir  string
	// Announce receives the announce line (the process's stdout).
	Announce io.Writer
	Logger   *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = protocol.MaxMessageBytes
	}
	if c.MaxArtifactBytes == 0 {
		c.MaxArtifactBytes = 4 << 30
	}
	if c.MaxResidentBytes == 0 {
		c.MaxResidentBytes = 16 << 30
	}
	if c.ShutdownGrace == 0 {
		c.ShutdownGrace = 30 * time.Second
	}
	if c.SocketDir == "" {
		c.SocketDir = os.TempDir()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports every problem with the config.
func (c Config) Validate() error {
	var errs []error
	if c.Kind == "" {
		errs = append(errs, errors.New("engine config: Kind is empty"))
	}
	if c.Register == nil {
		errs = append(errs, errors.New("engine config: Register is nil"))
	}
	if c.MaxMessageBytes < 0 {
		errs = append(errs, fmt.Errorf("engine config: MaxMessageBytes %d is negative", c.MaxMessageBytes))
	}
	return errors.Join(errs...)
}

// Server is an engine's gRPC server with its shared state.
type Server struct {
	cfg      Config
	grpc     *grpc.Server
	store    *Store
	inFlight atomic.Int32
	draining atomic.Bool
	stopOnce sync.Once
	stopped  chan struct{}
}

// NewServer builds the server for cfg without listening anywhere.
func NewServer(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Server{cfg: cfg, store: NewStore(cfg.MaxResidentBytes), stopped: make(chan struct{})}
	sopts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(cfg.MaxMessageBytes),
		grpc.MaxSendMsgSize(cfg.MaxMessageBytes),
		grpc.ChainUnaryInterceptor(s.unaryGuard),
		grpc.ChainStreamInterceptor(s.streamGuard),
	}
	// See engine.Dial: static windows keep the bandwidth estimator's pings
	// off every call. Stream workers reuse goroutines instead of starting
	// one per call.
	sopts = append(sopts, grpc.InitialWindowSize(protocol.FlowWindowBytes), grpc.InitialConnWindowSize(protocol.FlowWindowBytes),
		grpc.NumStreamWorkers(uint32(runtime.GOMAXPROCS(0))))
	s.grpc = grpc.NewServer(sopts...)
	enginev1.RegisterEngineServer(s.grpc, &core{
		cfg: &s.cfg, store: s.store, inFlight: &s.inFlight, draining: &s.draining, shutdown: s.Stop,
	})
	cfg.Register(s.grpc, s.store)
	return s, nil
}

// Stop begins a graceful shutdown: new calls are refused, calls in flight get
// ShutdownGrace to finish. It returns at once; Serve returns when done.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		s.draining.Store(true)
		go func() {
			defer close(s.stopped)
			done := make(chan struct{})
			go func() { s.grpc.GracefulStop(); close(done) }()
			select {
			case <-done:
			case <-time.After(s.cfg.ShutdownGrace):
				s.grpc.Stop()
				<-done
			}
		}()
	})
}

// Serve listens on a Unix socket, announces it, and serves until ctx ends or
// a client calls Shutdown. It removes the socket (and its private directory)
// before returning.
func (s *Server) Serve(ctx context.Context) error {
	path, cleanup, err := s.socketPath()
	if err != nil {
		return err
	}
	defer cleanup()
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("engine: listen on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return fmt.Errorf("engine: chmod %s: %w", path, err)
	}
	// Listening already: only now may a client learn where to connect.
	if s.cfg.Announce != nil {
		a := protocol.Announcement{Version: protocol.Version, Network: "unix", Address: path}
		if _, err := fmt.Fprintln(s.cfg.Announce, a.String()); err != nil {
			ln.Close()
			return fmt.Errorf("engine: announce: %w", err)
		}
	}
	s.cfg.Logger.Info("engine listening", "kind", s.cfg.Kind, "socket", path, "pid", os.Getpid())
	return s.serveOn(ctx, ln)
}

func (s *Server) serveOn(ctx context.Context, ln net.Listener) error {
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.grpc.Serve(ln) }()
	select {
	case <-ctx.Done():
		s.Stop()
	case <-s.stopped:
	case err := <-serveErr:
		s.Stop()
		<-s.stopped
		if s.cfg.Stopped != nil {
			err = errors.Join(err, s.cfg.Stopped())
		}
		return err
	}
	<-s.stopped
	err := <-serveErr
	if errors.Is(err, grpc.ErrServerStopped) {
		err = nil
	}
	if s.cfg.Stopped != nil {
		err = errors.Join(err, s.cfg.Stopped())
	}
	return err
}

// socketPath picks where to listen and returns how to clean it up.
func (s *Server) socketPath() (string, func(), error) {
	if p := s.cfg.SocketPath; p != "" {
		if err := removeStaleSocket(p); err != nil {
			return "", nil, err
		}
		return p, func() { os.Remove(p) }, nil
	}
	dir, err := os.MkdirTemp(s.cfg.SocketDir, "proofd-engine-")
	if err != nil {
		return "", nil, fmt.Errorf("engine: socket directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("engine: socket directory: %w", err)
	}
	return filepath.Join(dir, "engine.sock"), func() { os.RemoveAll(dir) }, nil
}

// removeStaleSocket removes path if it is a socket nobody answers on.
func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("engine: socket %s: %w", path, err)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("engine: socket %s: exists and is not a socket", path)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("engine: socket %s: another process is listening on it", path)
	}
	return os.Remove(path)
}

// InProcess serves the engine on an in-memory listener, for callers that want
// the engine API without a child process. The same gRPC code path runs.
type InProcess struct {
	srv  *Server
	ln   *bufconn.Listener
	done chan error
	stop context.CancelFunc
}

// ServeInProcess starts s on an in-memory listener.
func (s *Server) ServeInProcess() *InProcess {
	ln := bufconn.Listen(1 << 20)
	ctx, cancel := context.WithCancel(context.Background())
	ip := &InProcess{srv: s, ln: ln, done: make(chan error, 1), stop: cancel}
	go func() { ip.done <- s.serveOn(ctx, ln) }()
	return ip
}

// Dial connects to the in-process engine.
func (ip *InProcess) Dial(ctx context.Context, _ string) (net.Conn, error) {
	return ip.ln.DialContext(ctx)
}

// Close stops the engine and waits for it.
func (ip *InProcess) Close() error {
	ip.stop()
	return <-ip.done
}

func (s *Server) unaryGuard(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	if s.draining.Load() && info.FullMethod != enginev1.Engine_Health_FullMethodName {
		return nil, status.Error(codes.Unavailable, "engine is shutting down")
	}
	defer s.recoverInto(info.FullMethod, &err)
	return handler(ctx, req)
}

func (s *Server) streamGuard(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	if s.draining.Load() {
		return status.Error(codes.Unavailable, "engine is shutting down")
	}
	defer s.recoverInto(info.FullMethod, &err)
	return handler(srv, ss)
}

// recoverInto turns a handler panic into an INTERNAL status so one bad
// request cannot take the engine down.
func (s *Server) recoverInto(method string, err *error) {
	if r := recover(); r != nil {
		s.cfg.Logger.Error("handler panicked", "method", method, "panic", r, "stack", string(debug.Stack()))
		*err = status.Errorf(codes.Internal, "%s: engine panicked: %v", method, r)
	}
}

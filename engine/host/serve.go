package host

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/proofd/proofd/engine/protocol"
	"github.com/proofd/proofd/proto/enginev1"
)

// Config describes the engine to serve. NewServer calls EnsureDefaults,
// which fills zero values in one place, then Validate, which reports
// everything wrong at once.
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
	// MaxArtifactBytes bounds one uploaded artifact (default 4 GiB, or the
	// resident budget when that is smaller).
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
	// ListenTCP, when set (HOST:PORT, port 0 picks a free one), serves on
	// TCP instead of a Unix socket, with mutual TLS: TLS must then be set,
	// require and verify client certificates, and allow TLS 1.3 only
	// (ServerTLS builds such a config). There is no insecure TCP mode.
	ListenTCP string
	TLS       *tls.Config
	// Announce receives the announce line (the process's stdout).
	Announce io.Writer
	Logger   *slog.Logger
	// Hooks observe the engine's calls.
	Hooks Hooks
}

// Hooks are funcs the server calls as it works, for metrics; each may be
// nil. They run on the call's goroutine and must return quickly.
type Hooks struct {
	// CallDone runs when a call has ended, refused and panicked calls
	// included.
	CallDone func(Call)
}

// Call describes one finished gRPC call.
type Call struct {
	Method   string // full method name, "/proofd.engine.v1.Engine/Health"
	Code     codes.Code
	Duration time.Duration
}

// EnsureDefaults fills every unset field with its default.
func (c *Config) EnsureDefaults() {
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = protocol.MaxMessageBytes
	}
	if c.MaxResidentBytes == 0 {
		c.MaxResidentBytes = 16 << 30
	}
	if c.MaxArtifactBytes == 0 {
		// An artifact larger than the budget could never be held.
		c.MaxArtifactBytes = min(4<<30, c.MaxResidentBytes)
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
}

// Validate reports every problem with the config, all at once.
func (c *Config) Validate() error {
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
	if c.ShutdownGrace < 0 {
		errs = append(errs, fmt.Errorf("engine config: ShutdownGrace %s is negative", c.ShutdownGrace))
	}
	if c.MaxArtifactBytes > c.MaxResidentBytes && c.MaxResidentBytes != 0 {
		errs = append(errs, fmt.Errorf("engine config: MaxArtifactBytes %d exceeds MaxResidentBytes %d: such an artifact could never be held", c.MaxArtifactBytes, c.MaxResidentBytes))
	}
	errs = append(errs, c.validateTLS()...)
	return errors.Join(errs...)
}

// validateTLS checks that a TCP engine requires mutual TLS 1.3.
func (c *Config) validateTLS() []error {
	if c.ListenTCP == "" {
		if c.TLS != nil {
			return []error{errors.New("engine config: TLS is set without ListenTCP; Unix-socket and in-process engines do not use TLS")}
		}
		return nil
	}
	var errs []error
	if c.SocketPath != "" {
		errs = append(errs, errors.New("engine config: both SocketPath and ListenTCP are set"))
	}
	if _, _, err := net.SplitHostPort(c.ListenTCP); err != nil {
		errs = append(errs, fmt.Errorf("engine config: ListenTCP %q: %w", c.ListenTCP, err))
	}
	t := c.TLS
	if t == nil {
		return append(errs, errors.New("engine config: ListenTCP needs TLS: a TCP engine requires mutual TLS"))
	}
	if t.ClientAuth != tls.RequireAndVerifyClientCert {
		errs = append(errs, fmt.Errorf("engine config: TLS.ClientAuth is %v, want RequireAndVerifyClientCert", t.ClientAuth))
	}
	if t.ClientCAs == nil {
		errs = append(errs, errors.New("engine config: TLS.ClientCAs is nil: no client could be verified"))
	}
	if len(t.Certificates) == 0 && t.GetCertificate == nil && t.GetConfigForClient == nil {
		errs = append(errs, errors.New("engine config: TLS has no server certificate"))
	}
	if t.MinVersion < protocol.MinTLSVersion {
		errs = append(errs, fmt.Errorf("engine config: TLS.MinVersion %s, want TLS 1.3", tls.VersionName(t.MinVersion)))
	}
	return errs
}

// ServerTLS loads the server side of mutual TLS for Config.TLS: the
// engine's certificate and key, and the CA whose certificates clients must
// present. Errors name the file.
func ServerTLS(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	cert, err := protocol.LoadKeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	pool, err := protocol.LoadCAPool(clientCAFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   protocol.MinTLSVersion,
	}, nil
}

// tlsHandshakeTimeout bounds a TCP client's TLS handshake, so that
// connections that never finish one do not pile up.
const tlsHandshakeTimeout = 10 * time.Second

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
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, store: NewStore(cfg.MaxResidentBytes), stopped: make(chan struct{})}
	recoverWith := recovery.WithRecoveryHandlerContext(s.panicStatus)
	var creds []grpc.ServerOption
	if cfg.TLS != nil {
		creds = append(creds, grpc.Creds(credentials.NewTLS(cfg.TLS.Clone())), grpc.ConnectionTimeout(tlsHandshakeTimeout))
	}
	s.grpc = grpc.NewServer(append(creds,
		grpc.MaxRecvMsgSize(cfg.MaxMessageBytes),
		grpc.MaxSendMsgSize(cfg.MaxMessageBytes),
		// Outermost first: observe sees the status admit and recovery give.
		grpc.ChainUnaryInterceptor(s.observeUnary, s.admitUnary, recovery.UnaryServerInterceptor(recoverWith)),
		grpc.ChainStreamInterceptor(s.observeStream, s.admitStream, recovery.StreamServerInterceptor(recoverWith)),
		// See engine.Dial: static windows keep the bandwidth estimator's
		// pings off every call. Stream workers reuse goroutines instead of
		// starting one per call.
		grpc.InitialWindowSize(protocol.FlowWindowBytes), grpc.InitialConnWindowSize(protocol.FlowWindowBytes),
		grpc.NumStreamWorkers(uint32(runtime.GOMAXPROCS(0))),
	)...)
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

// Serve listens on a Unix socket (or, with ListenTCP, on TCP with mutual
// TLS), announces it, and serves until ctx ends or a client calls Shutdown.
// It removes the socket (and its private directory) before returning.
func (s *Server) Serve(ctx context.Context) error {
	network := protocol.NetworkUnix
	listen := s.listen
	if s.cfg.ListenTCP != "" {
		network, listen = protocol.NetworkTCP, s.listenTCP
	}
	ln, path, cleanup, err := listen()
	if err != nil {
		return err
	}
	defer cleanup()
	// Listening already: only now may a client learn where to connect.
	if s.cfg.Announce != nil {
		a := protocol.Announcement{Version: protocol.Version, Network: network, Address: path}
		if _, err := fmt.Fprintln(s.cfg.Announce, a.String()); err != nil {
			ln.Close()
			return fmt.Errorf("engine: announce: %w", err)
		}
	}
	s.cfg.Logger.Info("engine listening", "kind", s.cfg.Kind, "network", network, "address", path, "pid", os.Getpid())
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

const (
	// socketDirPattern names the private directories engines listen in.
	socketDirPattern = "proofd-engine-"
	socketName       = "engine.sock"
	// staleAge is how long a socket directory must have gone unchanged
	// before it may be removed: an engine binds its socket moments after
	// making the directory, and listens moments after binding, so a younger
	// directory may belong to an engine that is still starting.
	staleAge = time.Minute
)

// listen binds the engine's socket where only this user can connect and
// returns how to remove it. In a fresh private directory the socket is
// unreachable to others from the start, whatever its mode.
func (s *Server) listen() (net.Listener, string, func(), error) {
	if p := s.cfg.SocketPath; p != "" {
		return listenAt(p)
	}
	removeStaleDirs(s.cfg.SocketDir, time.Now(), s.cfg.Logger)
	dir, err := privateDir(s.cfg.SocketDir, socketDirPattern)
	if err != nil {
		return nil, "", nil, err
	}
	path := filepath.Join(dir, socketName)
	ln, err := listenPrivate(path)
	if err != nil {
		os.RemoveAll(dir)
		return nil, "", nil, err
	}
	return ln, path, func() { os.RemoveAll(dir) }, nil
}

// listenTCP listens on ListenTCP and returns the address actually bound
// (with the port the kernel picked for port 0). Connections are served
// over TLS by the gRPC server's credentials.
func (s *Server) listenTCP() (net.Listener, string, func(), error) {
	ln, err := net.Listen("tcp", s.cfg.ListenTCP)
	if err != nil {
		return nil, "", nil, fmt.Errorf("engine: listen on tcp %s: %w", s.cfg.ListenTCP, err)
	}
	return ln, ln.Addr().String(), func() {}, nil
}

// listenAt listens on an explicitly named socket. It binds in a private
// directory beside path and links the socket into place once it is 0600:
// bound at path directly, it would be open to anyone the umask allows until
// the chmod. Linking, unlike renaming, fails if another engine took path
// meanwhile.
func listenAt(path string) (net.Listener, string, func(), error) {
	if err := removeStaleSocket(path); err != nil {
		return nil, "", nil, err
	}
	dir, err := privateDir(filepath.Dir(path), "."+socketDirPattern+"bind-")
	if err != nil {
		return nil, "", nil, err
	}
	defer os.RemoveAll(dir)
	ln, err := listenPrivate(filepath.Join(dir, socketName))
	if err != nil {
		return nil, "", nil, err
	}
	ln.SetUnlinkOnClose(false) // the name that stays is path; cleanup removes it
	if err := os.Link(filepath.Join(dir, socketName), path); err != nil {
		ln.Close()
		return nil, "", nil, fmt.Errorf("engine: socket %s: %w", path, err)
	}
	return ln, path, func() { os.Remove(path) }, nil
}

// privateDir makes a fresh directory only this user can enter.
func privateDir(parent, pattern string) (string, error) {
	dir, err := os.MkdirTemp(parent, pattern)
	if err != nil {
		return "", fmt.Errorf("engine: socket directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("engine: socket directory: %w", err)
	}
	return dir, nil
}

// listenPrivate listens on path, which must be in a private directory, and
// makes the socket 0600 before anyone can learn of it.
func listenPrivate(path string) (*net.UnixListener, error) {
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("engine: listen on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("engine: chmod %s: %w", path, err)
	}
	return ln, nil
}

// removeStaleDirs removes the socket directories that engines killed
// without cleaning up (by Pdeathsig, say) left in parent. A directory goes
// only if it is this user's, matches socketDirPattern, has not changed for
// staleAge, and its socket refuses connections or is missing. Failures are
// logged: they must not stop this engine from starting.
func removeStaleDirs(parent string, now time.Time, log *slog.Logger) {
	dirs, err := filepath.Glob(filepath.Join(parent, socketDirPattern+"*"))
	if err != nil {
		log.Warn("look for stale engine socket directories", "dir", parent, "err", err)
		return
	}
	for _, dir := range dirs {
		if !staleDir(dir, now) {
			continue
		}
		if err := os.RemoveAll(dir); err != nil {
			log.Warn("remove stale engine socket directory", "dir", dir, "err", err)
			continue
		}
		log.Info("removed stale engine socket directory", "dir", dir)
	}
}

func staleDir(dir string, now time.Time) bool {
	fi, err := os.Lstat(dir)
	if err != nil || !fi.IsDir() {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Uid != uint32(os.Getuid()) || now.Sub(fi.ModTime()) < staleAge {
		return false
	}
	sock := filepath.Join(dir, socketName)
	fi, err = os.Lstat(sock)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return true // its engine died before it could listen
	case err != nil || fi.Mode()&os.ModeSocket == 0:
		return false
	}
	return probeDead(sock) == nil
}

// probeDead returns nil if connecting to the socket at path is refused, the
// one answer that proves nobody listens on it; a live engine with a full
// backlog, say, fails a connect differently.
func probeDead(path string) error {
	c, err := net.DialTimeout("unix", path, time.Second)
	switch {
	case err == nil:
		c.Close()
		return errors.New("another process is listening on it")
	case errors.Is(err, syscall.ECONNREFUSED):
		return nil
	}
	return fmt.Errorf("cannot tell whether it is in use: %w", err)
}

// removeStaleSocket removes path if it is a socket nobody listens on.
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
	if err := probeDead(path); err != nil {
		return fmt.Errorf("engine: socket %s: %w", path, err)
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

func (s *Server) observeUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if s.cfg.Hooks.CallDone == nil {
		return handler(ctx, req)
	}
	start := time.Now()
	resp, err := handler(ctx, req)
	s.cfg.Hooks.CallDone(Call{Method: info.FullMethod, Code: status.Code(err), Duration: time.Since(start)})
	return resp, err
}

func (s *Server) observeStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if s.cfg.Hooks.CallDone == nil {
		return handler(srv, ss)
	}
	start := time.Now()
	err := handler(srv, ss)
	s.cfg.Hooks.CallDone(Call{Method: info.FullMethod, Code: status.Code(err), Duration: time.Since(start)})
	return err
}

// admitUnary counts the call in flight and refuses it while draining;
// Health still answers then, so a client can see the engine is draining.
func (s *Server) admitUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	if s.draining.Load() && info.FullMethod != enginev1.Engine_Health_FullMethodName {
		return nil, status.Error(codes.Unavailable, "engine is shutting down")
	}
	return handler(ctx, req)
}

func (s *Server) admitStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	if s.draining.Load() {
		return status.Error(codes.Unavailable, "engine is shutting down")
	}
	return handler(srv, ss)
}

// panicStatus turns a handler panic into an INTERNAL status naming the
// method, so one bad request cannot take the engine down.
func (s *Server) panicStatus(ctx context.Context, p any) error {
	method, _ := grpc.Method(ctx)
	s.cfg.Logger.Error("handler panicked", "method", method, "panic", p, "stack", string(debug.Stack()))
	return status.Errorf(codes.Internal, "%s: engine panicked: %v", method, p)
}

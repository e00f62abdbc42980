package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/proofd/proofd/debugrec"
	"github.com/proofd/proofd/engine/protocol"
	"github.com/proofd/proofd/proto/enginev1"
)

// Conn is a connection to one engine, spawned or in-process.
type Conn struct {
	cc   *grpc.ClientConn
	core enginev1.EngineClient
	info *enginev1.HandshakeResponse
	rec  *debugrec.Recorder
	addr string

	proc  *process // set for a spawned engine
	local Local    // set for an in-process engine

	closeOnce sync.Once
	closeErr  error
}

// Dialer connects to an engine's address.
type Dialer func(ctx context.Context, addr string) (net.Conn, error)

// Dial connects to the engine at addr through dial and negotiates the
// protocol version. Recording follows $PROOFD_DEBUG_DIR.
func Dial(ctx context.Context, addr string, dial Dialer) (*Conn, error) {
	// The handshake waits for the connection to become ready: a local
	// engine listens before it announces, so a failure to connect is
	// transient and the caller's deadline bounds the wait.
	return dialWith(ctx, addr, dial, insecure.NewCredentials(), true, nil)
}

// dialWith is Dial with the transport credentials; waitForReady says
// whether the handshake waits out connection failures (until ctx ends)
// or fails on the first one; obs, when set, is told of every RPC.
func dialWith(ctx context.Context, addr string, dial Dialer, creds credentials.TransportCredentials, waitForReady bool, obs RPCObserver) (*Conn, error) {
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithContextDialer(dial),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(protocol.MaxMessageBytes), grpc.MaxCallSendMsgSize(protocol.MaxMessageBytes)),
	}
	opts = append(opts, observeOptions(obs)...)
	// Static flow-control windows turn off gRPC's bandwidth estimator, which
	// otherwise answers a response's data frame with a ping of its own: one
	// more write and wake-up on both sides of every call. On a Unix socket
	// there is no bandwidth to estimate.
	opts = append(opts, grpc.WithInitialWindowSize(protocol.FlowWindowBytes), grpc.WithInitialConnWindowSize(protocol.FlowWindowBytes))
	cc, err := grpc.NewClient("passthrough:///"+addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to engine %s: %w", addr, err)
	}
	c := &Conn{cc: cc, core: enginev1.NewEngineClient(cc), rec: debugrec.FromEnv(), addr: addr}
	info, err := c.core.Handshake(ctx, &enginev1.HandshakeRequest{
		MinVersion: protocol.Version, MaxVersion: protocol.Version, Client: "proofd",
	}, grpc.WaitForReady(waitForReady))
	if err != nil {
		cc.Close()
		return nil, FromStatus(ctx, "handshake with engine "+addr, err)
	}
	c.info = info
	return c, nil
}

// DialUnix connects to an engine listening on a Unix socket.
func DialUnix(ctx context.Context, path string) (*Conn, error) {
	return dialUnix(ctx, path, nil)
}

func dialUnix(ctx context.Context, path string, obs RPCObserver) (*Conn, error) {
	return dialWith(ctx, path, func(ctx context.Context, addr string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", addr)
	}, insecure.NewCredentials(), true, obs)
}

// Local is an engine served inside this process on an in-memory listener
// (engine/host's ServeInProcess gives one). Close stops it.
type Local interface {
	Dial(ctx context.Context, addr string) (net.Conn, error)
	Close() error
}

// InProcess connects to an engine served inside this process: the same gRPC
// path as a spawned engine, with no child process. Close stops the server.
func InProcess(ctx context.Context, l Local) (*Conn, error) {
	c, err := Dial(ctx, "inprocess", l.Dial)
	if err != nil {
		return nil, errors.Join(err, l.Close())
	}
	c.local = l
	return c, nil
}

// Raw is the underlying gRPC connection, for calling services this package
// has no typed wrapper for.
func (c *Conn) Raw() *grpc.ClientConn { return c.cc }

// Addr is the address connected to: a socket path, HOST:PORT for a TCP
// engine, "inprocess" for an in-process one.
func (c *Conn) Addr() string { return c.addr }

// Info is the engine's handshake answer.
func (c *Conn) Info() *enginev1.HandshakeResponse { return c.info }

// Pid is the engine process id, or 0 for an in-process engine.
func (c *Conn) Pid() int {
	if c.proc == nil {
		return 0
	}
	return c.proc.Pid()
}

// Exited is closed when a spawned engine's process has exited; nil for an
// in-process engine.
func (c *Conn) Exited() <-chan struct{} {
	if c.proc == nil {
		return nil
	}
	return c.proc.Exited()
}

// Health asks the engine how it is.
func (c *Conn) Health(ctx context.Context) (*enginev1.HealthResponse, error) {
	return c.health(ctx, false)
}

// HealthResident is Health that also lists the engine's resident
// artifacts (resident_digests), for a pool's affinity table.
func (c *Conn) HealthResident(ctx context.Context) (*enginev1.HealthResponse, error) {
	return c.health(ctx, true)
}

func (c *Conn) health(ctx context.Context, resident bool) (*enginev1.HealthResponse, error) {
	resp, err := c.core.Health(ctx, &enginev1.HealthRequest{ResidentDigests: resident})
	return resp, FromStatus(ctx, "health", err)
}

// Close shuts the engine down gracefully, then kills what is left. It
// returns every teardown failure; closing again returns the same.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() { c.closeErr = c.close() })
	return c.closeErr
}

func (c *Conn) close() error {
	var errs []error
	if c.proc != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := c.core.Shutdown(ctx, &enginev1.ShutdownRequest{})
		cancel()
		if err != nil && c.procAlive() {
			errs = append(errs, FromStatus(context.Background(), "shutdown", err))
		}
	}
	if err := c.cc.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close engine connection: %w", err))
	}
	if c.proc != nil {
		errs = append(errs, c.proc.stop(10*time.Second))
	}
	if c.local != nil {
		errs = append(errs, c.local.Close())
	}
	return errors.Join(errs...)
}

// Kill ends a spawned engine at once (SIGKILL to its process group). Its
// exit is then expected: Close does not report it.
func (c *Conn) Kill() {
	if c.proc != nil {
		c.proc.killed.Store(true)
		c.proc.kill()
	}
}

func (c *Conn) procAlive() bool {
	select {
	case <-c.proc.Exited():
		return false
	default:
		return true
	}
}

// SelfEngine is how proofd spawns itself as an engine.
func SelfEngine() (SpawnOptions, error) {
	exe, err := os.Executable()
	if err != nil {
		return SpawnOptions{}, fmt.Errorf("find proofd executable: %w", err)
	}
	return SpawnOptions{Path: exe, Args: []string{"engine", "serve", "--exit-on-stdin-eof"}}, nil
}

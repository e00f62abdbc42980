package engine

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"

	"google.golang.org/grpc/credentials"

	"github.com/proofd/proofd/engine/protocol"
)

// DialTLS connects to a remote engine served over TCP with mutual TLS
// (`proofd engine serve --listen tcp://HOST:PORT ...`) and negotiates the
// protocol version exactly as Dial does. cfg must carry a client
// certificate (ClientTLS builds one); TLS 1.3 is required whatever
// cfg.MinVersion says. Unlike a local engine, a remote one may refuse the
// connection for good (a certificate it does not trust): the handshake
// fails on the first connection error, naming it, instead of waiting for
// ctx to end; such errors are retryable like any unreachable engine.
func DialTLS(ctx context.Context, addr string, cfg *tls.Config) (*Conn, error) {
	return dialTLS(ctx, addr, cfg, nil)
}

// DialTLSObserved is DialTLS with every RPC on the connection, the
// handshake included, reported to obs (see SpawnOptions.OnRPC).
func DialTLSObserved(ctx context.Context, addr string, cfg *tls.Config, obs RPCObserver) (*Conn, error) {
	return dialTLS(ctx, addr, cfg, obs)
}

func dialTLS(ctx context.Context, addr string, cfg *tls.Config, obs RPCObserver) (*Conn, error) {
	if cfg == nil {
		return nil, fmt.Errorf("connect to engine %s: no TLS configuration: a TCP engine requires mutual TLS", addr)
	}
	if len(cfg.Certificates) == 0 && cfg.GetClientCertificate == nil {
		return nil, fmt.Errorf("connect to engine %s: the TLS configuration has no client certificate, and the engine requires one", addr)
	}
	cfg = cfg.Clone()
	cfg.MinVersion = max(cfg.MinVersion, protocol.MinTLSVersion)
	return dialWith(ctx, addr, func(ctx context.Context, addr string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}, credentials.NewTLS(cfg), false, obs)
}

// ClientTLS loads the client side of mutual TLS for DialTLS: the client's
// certificate and key, and the CA that signed the engine's certificate
// (the only CA trusted, instead of the system's). Errors name the file.
func ClientTLS(certFile, keyFile, caFile string) (*tls.Config, error) {
	cert, err := protocol.LoadKeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	pool, err := protocol.LoadCAPool(caFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: protocol.MinTLSVersion}, nil
}

package natsserver

import (
	"crypto/tls"
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Options shape the server.
type Options struct {
	Port int // 0: any free port
	// NKeyUsers, when set, are the only clients admitted: the public nkeys
	// (U…) that may connect; every other client is refused.
	NKeyUsers []string
	// TLS, when set, makes the server speak only TLS with it (a config
	// whose ClientAuth requires certificates gives mutual TLS).
	TLS *tls.Config
}

// Server is a running in-process NATS server.
type Server struct{ s *server.Server }

// Start runs a JetStream-enabled server on 127.0.0.1 with its store in dir.
func Start(dir string, o Options) (*Server, error) {
	port := o.Port
	if port == 0 {
		port = server.RANDOM_PORT
	}
	opts := &server.Options{
		Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir,
		NoLog: true, NoSigs: true, MaxPayload: 8 << 20,
	}
	for _, u := range o.NKeyUsers {
		opts.Nkeys = append(opts.Nkeys, &server.NkeyUser{Nkey: u})
	}
	if o.TLS != nil {
		opts.TLS, opts.TLSConfig, opts.TLSTimeout = true, o.TLS, 5
		opts.TLSVerify = o.TLS.ClientAuth == tls.RequireAndVerifyClientCert
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("nats server: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("nats server: not ready within 10 s")
	}
	return &Server{s: s}, nil
}

// URL is the server's client URL.
func (s *Server) URL() string { return s.s.ClientURL() }

// Shutdown stops the server and waits for it.
func (s *Server) Shutdown() {
	s.s.Shutdown()
	s.s.WaitForShutdown()
}

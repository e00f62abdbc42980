package node

import (
	"context"
	"crypto/tls"
	"fmt"
	"sync"

	"google.golang.org/grpc/connectivity"

	"github.com/proofd/proofd/engine"
)

// Starter is an engine pool's start function (pool.Config.Start) over the
// configured engines: each remote engine is held by at most one pool slot
// at a time, dialed with mutual TLS, and dialed again once the pool has
// closed its connection (the engine died or was written off); every other
// start spawns a local engine. Size the pool engines + len(remotes).
type Starter struct {
	local   func(context.Context) (*engine.Conn, error)
	remotes []string
	tls     *tls.Config
	obs     engine.RPCObserver

	mu   sync.Mutex
	held map[string]*engine.Conn // remote address → the pool's connection to it
}

// NewStarter returns a Starter; tlsCfg is required when remotes is not
// empty. obs, when set, observes the remote engines' RPCs.
func NewStarter(local func(context.Context) (*engine.Conn, error), remotes []string, tlsCfg *tls.Config, obs engine.RPCObserver) (*Starter, error) {
	if len(remotes) > 0 && tlsCfg == nil {
		return nil, fmt.Errorf("remote engines %v: no TLS configuration (remote engines take mutual TLS only)", remotes)
	}
	return &Starter{local: local, remotes: remotes, tls: tlsCfg, obs: obs, held: map[string]*engine.Conn{}}, nil
}

// ClientTLS loads the node's mutual-TLS identity for remote engines from
// the configuration; nil when no remote engine is configured.
func (c Config) ClientTLS() (*tls.Config, error) {
	if len(c.RemoteEngines) == 0 {
		return nil, nil
	}
	return engine.ClientTLS(c.RemoteCert, c.RemoteKey, c.RemoteCA)
}

// Start connects a remote engine no slot holds, or else spawns a local one.
// A remote engine that cannot be reached is an error naming it (the pool
// retries the start with backoff), not a silent local fallback.
func (s *Starter) Start(ctx context.Context) (*engine.Conn, error) {
	addr := s.claim()
	if addr == "" {
		return s.local(ctx)
	}
	c, err := engine.DialTLSObserved(ctx, addr, s.tls, s.obs)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		delete(s.held, addr)
		return nil, fmt.Errorf("remote engine %s: %w", addr, err)
	}
	s.held[addr] = c
	return c, nil
}

// claim reserves the first remote engine that no live connection holds.
func (s *Starter) claim() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, addr := range s.remotes {
		c, claimed := s.held[addr]
		if !claimed || (c != nil && c.Raw().GetState() == connectivity.Shutdown) {
			s.held[addr] = nil // reserved while dialing
			return addr
		}
	}
	return ""
}

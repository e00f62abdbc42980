package node

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/proofd/proofd/engine"
)

func TestStarterNamesAnUnreachableRemoteAndSpawnsTheRest(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	local := 0
	errLocal := errors.New("local start")
	st, err := NewStarter(func(context.Context) (*engine.Conn, error) { local++; return nil, errLocal }, []string{addr},
		&tls.Config{Certificates: []tls.Certificate{{}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10e9)
	defer cancel()
	// The remote engine first, and again after its start failed: it is not
	// claimed while unreachable, and no local engine stands in for it.
	for range 2 {
		if _, err := st.Start(ctx); err == nil || !strings.Contains(err.Error(), addr) || local != 0 {
			t.Fatalf("start of an unreachable remote engine: %v (local starts %d)", err, local)
		}
	}
	if _, err := NewStarter(nil, []string{addr}, nil, nil); err == nil {
		t.Error("remote engines without TLS were accepted")
	}
	none, _ := NewStarter(func(context.Context) (*engine.Conn, error) { local++; return nil, errLocal }, nil, nil, nil)
	if _, err := none.Start(ctx); !errors.Is(err, errLocal) || local != 1 {
		t.Errorf("no remotes: %v, local starts %d", err, local)
	}
}

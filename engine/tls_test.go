package engine_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/consensys/gnark-crypto/ecc"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/engine"
	"github.com/proofd/proofd/engine/devcert"
	"github.com/proofd/proofd/engine/enginetest"
	"github.com/proofd/proofd/engine/snarkclient"
	"github.com/proofd/proofd/examples/circuits"
)

// devCerts writes a development certificate set in a fresh directory and
// returns a function naming its files.
func devCerts(t *testing.T) func(name string) string {
	t.Helper()
	dir := t.TempDir()
	s, err := devcert.Generate([]string{"localhost", "127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(dir); err != nil {
		t.Fatal(err)
	}
	return func(name string) string { return filepath.Join(dir, name) }
}

func clientTLS(t *testing.T, cert, key, ca string) *tls.Config {
	t.Helper()
	cfg, err := engine.ClientTLS(cert, key, ca)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// A spawned engine on tcp://127.0.0.1:0 announces the port it bound,
// serves a real SNARK call to a client with a certificate from its client
// CA, and refuses every other client at once.
func TestRemoteEngineMutualTLS(t *testing.T) {
	a, other := devCerts(t), devCerts(t)
	args := []string{"engine", "serve", "--exit-on-stdin-eof", "--listen", "tcp://127.0.0.1:0",
		"--tls-cert", a(devcert.ServerFile), "--tls-key", a(devcert.ServerKeyFile), "--client-ca", a(devcert.CAFile)}
	good := clientTLS(t, a(devcert.ClientFile), a(devcert.ClientKeyFile), a(devcert.CAFile))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	if _, err := engine.Spawn(ctx, engine.SpawnOptions{Path: enginetest.Proofd(t), Args: args}); err == nil || !strings.Contains(err.Error(), "SpawnOptions.TLS") {
		t.Fatalf("spawn of a TCP engine without TLS: got %v, want an error naming SpawnOptions.TLS", err)
	}

	c, err := engine.Spawn(ctx, engine.SpawnOptions{Path: enginetest.Proofd(t), Args: args, TLS: good})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	}()
	addr := c.Addr()
	if !strings.HasPrefix(addr, "127.0.0.1:") || strings.HasSuffix(addr, ":0") {
		t.Fatalf("engine address %q, want 127.0.0.1 and the port it bound", addr)
	}
	if c.Info().GetKind() != "snark" {
		t.Fatalf("handshake: %+v", c.Info())
	}
	ex, err := circuits.Build("mimc", 2, ecc.BN254, snarkclient.Groth16)
	if err != nil {
		t.Fatal(err)
	}
	var ccs bytes.Buffer
	if _, err := ex.CCS.WriteTo(&ccs); err != nil {
		t.Fatal(err)
	}
	st, err := snarkclient.New(c).Stats(ctx, "mimc", artifact.New(ccs.Bytes())) // uploads the circuit, then Stats
	if err != nil {
		t.Fatal(err)
	}
	if st.Constraints == 0 || st.Curve == "" {
		t.Fatalf("stats over mutual TLS: %+v", st)
	}

	noCert := good.Clone()
	noCert.Certificates = nil
	noCert.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &tls.Certificate{}, nil }
	for name, cfg := range map[string]*tls.Config{
		"no client certificate":             noCert,
		"client certificate of another CA":  clientTLS(t, other(devcert.ClientFile), other(devcert.ClientKeyFile), a(devcert.CAFile)),
		"server not trusted by the client":  clientTLS(t, a(devcert.ClientFile), a(devcert.ClientKeyFile), other(devcert.CAFile)),
		"server certificate used as client": clientTLS(t, a(devcert.ServerFile), a(devcert.ServerKeyFile), a(devcert.CAFile)),
	} {
		start := time.Now()
		rc, err := engine.DialTLS(ctx, addr, cfg)
		if err == nil {
			rc.Close()
			t.Errorf("%s: connected", name)
			continue
		}
		if d := time.Since(start); d > 30*time.Second || ctx.Err() != nil {
			t.Errorf("%s: refused only after %s: %v", name, d, err)
		}
		t.Logf("%s: %v", name, err)
	}
	if _, err := engine.DialTLS(ctx, addr, &tls.Config{RootCAs: good.RootCAs}); err == nil || !strings.Contains(err.Error(), "client certificate") {
		t.Errorf("DialTLS without a client certificate: got %v, want a refusal before connecting", err)
	}

	// The engine still serves a trusted client after refusing the others,
	// whose RPCs DialTLSObserved reports.
	var observed []string
	rc, err := engine.DialTLSObserved(ctx, addr, good, func(method string, _ time.Duration, err error) {
		observed = append(observed, fmt.Sprintf("%s %v", method, err))
	})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := rc.Health(ctx); err != nil {
		t.Fatal(err)
	}
	if want := []string{"Handshake <nil>", "Health <nil>"}; !slices.Equal(observed, want) {
		t.Errorf("observed %q, want %q", observed, want)
	}
}

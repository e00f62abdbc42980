package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/proofd/proofd/engine"
	"github.com/proofd/proofd/engine/host"
	"github.com/proofd/proofd/internal/cli"
)

// runCLI runs the command line in this process, with no engine binary.
func runCLI(args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	code = cli.Run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestCertsDev(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	for range 2 { // a second run replaces the files, and warns again
		_, stderr, code := runCLI("certs", "dev", "--out", dir, "--hosts", "localhost,127.0.0.1,::1")
		if code != 0 {
			t.Fatalf("certs dev: exit %d: %s", code, stderr)
		}
		if !strings.Contains(stderr, "INSECURE: development certificates") {
			t.Fatalf("certs dev did not warn on stderr: %q", stderr)
		}
	}
	for name, want := range map[string]os.FileMode{
		"ca.pem": 0o644, "ca-key.pem": 0o600, "server.pem": 0o644, "server-key.pem": 0o600,
		"client.pem": 0o644, "client-key.pem": 0o600,
	} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", name, fi.Mode().Perm(), want)
		}
	}
	p := func(name string) string { return filepath.Join(dir, name) }
	if _, err := host.ServerTLS(p("server.pem"), p("server-key.pem"), p("ca.pem")); err != nil {
		t.Fatal(err)
	}
	if _, err := engine.ClientTLS(p("client.pem"), p("client-key.pem"), p("ca.pem")); err != nil {
		t.Fatal(err)
	}
	// Errors name the file at fault.
	if _, err := engine.ClientTLS(p("client.pem"), p("client-key.pem"), p("client-key.pem")); err == nil || !strings.Contains(err.Error(), "client-key.pem") {
		t.Fatalf("a key as CA file: got %v, want an error naming client-key.pem", err)
	}
	if _, err := engine.ClientTLS(p("missing.pem"), p("client-key.pem"), p("ca.pem")); err == nil || !strings.Contains(err.Error(), "missing.pem") {
		t.Fatalf("missing certificate: got %v, want an error naming missing.pem", err)
	}
}

func TestCertsDevNeedsOut(t *testing.T) {
	_, stderr, code := runCLI("certs", "dev")
	if code == 0 || !strings.Contains(stderr, "--out") || !strings.Contains(stderr, "INSECURE") {
		t.Fatalf("certs dev without --out: exit %d, stderr %q", code, stderr)
	}
}

func TestEngineServeTCPRequiresMutualTLS(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--listen", "tcp://127.0.0.1:0"}, []string{"requires mutual TLS", "--tls-cert", "--tls-key", "--client-ca"}},
		{[]string{"--listen", "tcp://127.0.0.1:0", "--tls-cert", "c.pem"}, []string{"missing --tls-key, --client-ca"}},
		{[]string{"--tls-cert", "c.pem"}, []string{"--tls-cert: only with --listen"}},
		{[]string{"--listen", "127.0.0.1:0"}, []string{"want tcp://HOST:PORT"}},
		{[]string{"--listen", "unix:///tmp/e.sock"}, []string{"want tcp://HOST:PORT"}},
		{[]string{"--listen", "tcp://127.0.0.1:0", "--socket", "/tmp/e.sock", "--tls-cert", "c", "--tls-key", "k", "--client-ca", "ca"}, []string{"--listen and --socket"}},
		{[]string{"--listen", "tcp://127.0.0.1:0", "--tls-cert", "/nonexistent/c.pem", "--tls-key", "k", "--client-ca", "ca"}, []string{"/nonexistent/c.pem"}},
	} {
		_, stderr, code := runCLI(append([]string{"engine", "serve"}, tc.args...)...)
		if code == 0 {
			t.Errorf("engine serve %q served", tc.args)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("engine serve %q: stderr %q, want %q", tc.args, stderr, w)
			}
		}
	}
}

package host

import (
	"crypto/tls"
	"crypto/x509"
	"strings"
	"testing"

	"google.golang.org/grpc"
)

func TestTCPRequiresMutualTLS13(t *testing.T) {
	base := func() Config {
		return Config{Kind: "x", Register: func(*grpc.Server, *Store) {}, ListenTCP: "127.0.0.1:0"}
	}
	good := &tls.Config{
		Certificates: []tls.Certificate{{}}, ClientCAs: x509.NewCertPool(),
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS13,
	}
	mut := func(f func(*tls.Config)) *tls.Config { c := good.Clone(); f(c); return c }
	for _, tc := range []struct {
		name string
		cfg  func(*Config)
		want string
	}{
		{"no TLS", func(c *Config) {}, "ListenTCP needs TLS"},
		{"client cert optional", func(c *Config) { c.TLS = mut(func(t *tls.Config) { t.ClientAuth = tls.VerifyClientCertIfGiven }) }, "RequireAndVerifyClientCert"},
		{"no client CAs", func(c *Config) { c.TLS = mut(func(t *tls.Config) { t.ClientCAs = nil }) }, "ClientCAs"},
		{"TLS 1.2", func(c *Config) { c.TLS = mut(func(t *tls.Config) { t.MinVersion = tls.VersionTLS12 }) }, "TLS 1.3"},
		{"no server certificate", func(c *Config) { c.TLS = mut(func(t *tls.Config) { t.Certificates = nil }) }, "no server certificate"},
		{"socket too", func(c *Config) { c.TLS, c.SocketPath = good, "/tmp/e.sock" }, "both SocketPath and ListenTCP"},
		{"bad address", func(c *Config) { c.TLS, c.ListenTCP = good, "127.0.0.1" }, "ListenTCP"},
		{"TLS on a socket", func(c *Config) { c.TLS, c.ListenTCP = good, "" }, "without ListenTCP"},
	} {
		cfg := base()
		tc.cfg(&cfg)
		cfg.EnsureDefaults()
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate() = %v, want an error mentioning %q", tc.name, err, tc.want)
		}
	}
	cfg := base()
	cfg.TLS = good
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("mutual TLS 1.3 config: %v", err)
	}
}

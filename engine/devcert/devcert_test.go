package devcert

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"testing"
	"time"
)

func TestGenerateWritesAVerifiableSet(t *testing.T) {
	now := time.Now()
	s, err := Generate([]string{"localhost", "127.0.0.1"}, now)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir() + "/certs"
	if err := s.Write(dir); err != nil {
		t.Fatal(err)
	}
	for i, path := range Files(dir) {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		want := os.FileMode(0o644)
		if i%2 == 1 { // keys
			want = 0o600
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode().Perm(), want)
		}
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(s.CA) {
		t.Fatal("CA does not parse")
	}
	check := func(certPEM, keyPEM []byte, usage x509.ExtKeyUsage, host string) {
		t.Helper()
		if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
			t.Fatal(err)
		}
		b, _ := pem.Decode(certPEM)
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Verify(x509.VerifyOptions{Roots: roots, DNSName: host, KeyUsages: []x509.ExtKeyUsage{usage}, CurrentTime: now}); err != nil {
			t.Fatalf("%s: %v", c.Subject.CommonName, err)
		}
	}
	check(s.Server, s.ServerKey, x509.ExtKeyUsageServerAuth, "127.0.0.1")
	check(s.Server, s.ServerKey, x509.ExtKeyUsageServerAuth, "localhost")
	check(s.Client, s.ClientKey, x509.ExtKeyUsageClientAuth, "")
	if _, err := tls.X509KeyPair(s.CA, s.CAKey); err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(s.Client)
	c, _ := x509.ParseCertificate(b.Bytes)
	if _, err := c.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, CurrentTime: now}); err == nil {
		t.Fatal("the client certificate is accepted for server auth")
	}
}

func TestGenerateRejectsNoHosts(t *testing.T) {
	for _, hosts := range [][]string{nil, {""}, {"localhost", " "}} {
		if _, err := Generate(hosts, time.Now()); err == nil {
			t.Errorf("Generate(%q) succeeded", hosts)
		}
	}
}

package protocol

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// MinTLSVersion is the oldest TLS a TCP engine or its client accepts.
const MinTLSVersion = tls.VersionTLS13

// LoadKeyPair loads a PEM certificate and its private key, naming the
// file at fault.
func LoadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	if _, err := os.Stat(certFile); err != nil {
		return tls.Certificate{}, fmt.Errorf("TLS certificate %s: %w", certFile, err)
	}
	if _, err := os.Stat(keyFile); err != nil {
		return tls.Certificate{}, fmt.Errorf("TLS key %s: %w", keyFile, err)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("TLS certificate %s with key %s: %w", certFile, keyFile, err)
	}
	return cert, nil
}

// LoadCAPool reads a PEM file of CA certificates; a file holding none is
// an error.
func LoadCAPool(caFile string) (*x509.CertPool, error) {
	b, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("TLS CA %s: %w", caFile, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("TLS CA %s: %w", caFile, errNoCerts)
	}
	return pool, nil
}

var errNoCerts = errors.New("no PEM certificate in it")

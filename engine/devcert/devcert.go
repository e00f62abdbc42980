package devcert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/proofd/proofd/atomicfile"
)

// File names Write uses in its directory.
const (
	CAFile        = "ca.pem"
	CAKeyFile     = "ca-key.pem"
	ServerFile    = "server.pem"
	ServerKeyFile = "server-key.pem"
	ClientFile    = "client.pem"
	ClientKeyFile = "client-key.pem"
)

// Validity is how long the certificates are valid from their making.
const Validity = 365 * 24 * time.Hour

// Set is a CA and the server and client certificates it signed, PEM
// encoded; keys are PKCS#8.
type Set struct {
	CA, CAKey         []byte
	Server, ServerKey []byte
	Client, ClientKey []byte
}

// Generate makes a Set whose server certificate is good for hosts (IP
// addresses or DNS names; at least one).
func Generate(hosts []string, now time.Time) (*Set, error) {
	var ips []net.IP
	var names []string
	for _, h := range hosts {
		h = strings.TrimSpace(h)
		switch {
		case h == "":
			return nil, errors.New("devcert: empty host name")
		case net.ParseIP(h) != nil:
			ips = append(ips, net.ParseIP(h))
		default:
			names = append(names, h)
		}
	}
	if len(ips)+len(names) == 0 {
		return nil, errors.New("devcert: no hosts for the server certificate")
	}
	notBefore := now.Add(-time.Hour) // tolerate a little clock skew
	notAfter := now.Add(Validity)

	caKey, caKeyPEM, err := newKey()
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "proofd development CA (INSECURE)"},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, caCert, err := sign(caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}

	leaf := func(cn string, usage x509.ExtKeyUsage) ([]byte, []byte, error) {
		key, keyPEM, err := newKey()
		if err != nil {
			return nil, nil, err
		}
		tmpl := &x509.Certificate{
			Subject:               pkix.Name{CommonName: cn},
			NotBefore:             notBefore,
			NotAfter:              notAfter,
			KeyUsage:              x509.KeyUsageDigitalSignature,
			ExtKeyUsage:           []x509.ExtKeyUsage{usage},
			BasicConstraintsValid: true,
		}
		if usage == x509.ExtKeyUsageServerAuth {
			tmpl.IPAddresses, tmpl.DNSNames = ips, names
		}
		der, _, err := sign(tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			return nil, nil, err
		}
		return pemBlock("CERTIFICATE", der), keyPEM, nil
	}
	s := &Set{CA: pemBlock("CERTIFICATE", caDER), CAKey: caKeyPEM}
	if s.Server, s.ServerKey, err = leaf("proofd engine (development)", x509.ExtKeyUsageServerAuth); err != nil {
		return nil, err
	}
	if s.Client, s.ClientKey, err = leaf("proofd client (development)", x509.ExtKeyUsageClientAuth); err != nil {
		return nil, err
	}
	return s, nil
}

// Write publishes the set's six files in dir, which it creates (0700) if
// missing, all at once.
func (s *Set) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("devcert: %w", err)
	}
	entry := func(name string, perm os.FileMode, b []byte) atomicfile.Entry {
		return atomicfile.Entry{Path: filepath.Join(dir, name), Perm: perm, Fill: atomicfile.Data(b)}
	}
	return atomicfile.WriteGroup(atomicfile.OSFS{},
		entry(CAFile, 0o644, s.CA), entry(CAKeyFile, 0o600, s.CAKey),
		entry(ServerFile, 0o644, s.Server), entry(ServerKeyFile, 0o600, s.ServerKey),
		entry(ClientFile, 0o644, s.Client), entry(ClientKeyFile, 0o600, s.ClientKey),
	)
}

// Files lists the paths Write writes in dir, in its order.
func Files(dir string) []string {
	var out []string
	for _, n := range []string{CAFile, CAKeyFile, ServerFile, ServerKeyFile, ClientFile, ClientKeyFile} {
		out = append(out, filepath.Join(dir, n))
	}
	return out
}

func newKey() (*ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("devcert: generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("devcert: encode key: %w", err)
	}
	return key, pemBlock("PRIVATE KEY", der), nil
}

func sign(tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, signer *ecdsa.PrivateKey) ([]byte, *x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, nil, fmt.Errorf("devcert: serial number: %w", err)
	}
	tmpl.SerialNumber = serial
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, nil, fmt.Errorf("devcert: sign %q: %w", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("devcert: parse %q: %w", tmpl.Subject.CommonName, err)
	}
	return der, cert, nil
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

package natsq

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// ConnConfig says how to reach and authenticate to NATS. Secrets live in
// files (Creds, NKey, TLSKey); only their paths are configuration, and URL
// is logged only through Redact.
type ConnConfig struct {
	URL  string // one or more comma-separated nats:// or tls:// URLs
	Name string // the connection's name, shown by the server
	// Creds is a user credentials file (a JWT and an nkey seed); NKey is an
	// nkey seed file. At most one of them.
	Creds string
	NKey  string
	// TLS: the client certificate and key (mutual TLS) and the CA that
	// signed the servers' certificates. CA alone gives server-verified TLS.
	TLSCert, TLSKey, TLSCA string
	// Logger, when set, is told when the connection is lost and regained.
	Logger *slog.Logger
}

// Validate reports every problem at once.
func (c ConnConfig) Validate() error {
	var errs []error
	if c.URL == "" {
		errs = append(errs, errors.New("nats: no URL"))
	}
	if c.Creds != "" && c.NKey != "" {
		errs = append(errs, errors.New("nats: nats-creds and nats-nkey are exclusive: give one"))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("nats: nats-tls-cert and nats-tls-key go together"))
	}
	return errors.Join(errs...)
}

// Connect dials NATS and keeps reconnecting for as long as the connection
// lives: a server's death moves it to another server of the cluster.
func (c ConnConfig) Connect() (*nats.Conn, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	opts := []nats.Option{
		nats.Name(c.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(100*time.Millisecond, time.Second),
		nats.Timeout(5 * time.Second),
	}
	if log := c.Logger; log != nil {
		opts = append(opts,
			nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { log.Warn("nats disconnected", "err", err) }),
			nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("nats reconnected", "server", nc.ConnectedUrlRedacted()) }),
		)
	}
	if c.Creds != "" {
		opts = append(opts, nats.UserCredentials(c.Creds))
	}
	if c.NKey != "" {
		o, err := nats.NkeyOptionFromSeed(c.NKey)
		if err != nil {
			return nil, fmt.Errorf("nats-nkey %s: %w", c.NKey, err)
		}
		opts = append(opts, o)
	}
	if c.TLSCert != "" {
		opts = append(opts, nats.ClientCert(c.TLSCert, c.TLSKey))
	}
	if c.TLSCA != "" {
		opts = append(opts, nats.RootCAs(c.TLSCA))
	}
	nc, err := nats.Connect(c.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("nats %s: %w", Redact(c.URL), err)
	}
	return nc, nil
}

// Redact is URL with any user, password or token in it replaced, for logs
// and errors.
func Redact(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		u, err := url.Parse(strings.TrimSpace(p))
		if err != nil {
			parts[i] = "(unparsable URL)"
			continue
		}
		if u.User != nil {
			u.User = url.User("REDACTED")
		}
		parts[i] = u.String()
	}
	return strings.Join(parts, ",")
}

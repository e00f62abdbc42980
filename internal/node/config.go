package node

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"

	"github.com/proofd/proofd/examples/rollup"
	"github.com/proofd/proofd/internal/konf"
)

// Config is the node's configuration. Every key is a YAML key of the config
// file, a flag of `proofd node` (--KEY) and an environment variable
// (PROOFD_KEY, dashes as underscores); flags win over the environment, the
// environment over the file, the file over the defaults.
type Config struct {
	DataDir string `koanf:"data-dir"`
	// KeysDir holds the circuits' proving and verifying keys (keycache),
	// by default data-dir/keys. Nodes of the same circuits may share one.
	KeysDir  string `koanf:"keys-dir"`
	HTTPAddr string `koanf:"http-addr"`
	// AllowInsecureHTTP permits a non-loopback HTTP listener (there is no
	// TLS on it yet).
	AllowInsecureHTTP bool `koanf:"allow-insecure-http"`
	Engines           int  `koanf:"engines"`
	// MaxBehind is how many submitted blocks the pipeline may lag behind
	// before submit answers 429 with Retry-After.
	MaxBehind   int           `koanf:"max-behind"`
	MaxBody     int64         `koanf:"max-body-bytes"`
	Depth       int           `koanf:"depth"`
	TxsPerBlock int           `koanf:"txs-per-block"`
	BundleSize  int           `koanf:"bundle-size"`
	Retries     int           `koanf:"retries"`
	ShutdownFor time.Duration `koanf:"shutdown-grace"`
	// RemoteEngines are HOST:PORT addresses of `proofd engine serve
	// --listen tcp://…` engines, pooled beside the local ones. The node
	// connects with mutual TLS: its client certificate and key, and the CA
	// that signed the engines' certificates.
	RemoteEngines []string `koanf:"remote-engines"`
	RemoteCert    string   `koanf:"remote-tls-cert"`
	RemoteKey     string   `koanf:"remote-tls-key"`
	RemoteCA      string   `koanf:"remote-tls-ca"`
}

// Defaults is the configuration before file, environment and flags.
func Defaults() Config {
	return Config{
		DataDir: "proofd-data", HTTPAddr: "127.0.0.1:8547", Engines: 2, MaxBehind: 16, MaxBody: 1 << 20,
		Depth: 8, TxsPerBlock: 2, BundleSize: 4, Retries: 2, ShutdownFor: 5 * time.Second,
	}
}

// Flags declares every key as a flag on fs, with its default.
func Flags(fs *pflag.FlagSet) {
	d := Defaults()
	fs.String("data-dir", d.DataDir, "where keys, receipts, the accepted chain and the inbox live")
	fs.String("keys-dir", "", "where the circuits' keys live (default data-dir/keys); nodes of the same circuits may share it")
	fs.String("http-addr", d.HTTPAddr, "the HTTP listener: status, /metrics, /healthz, /readyz and the ingest API")
	fs.Bool("allow-insecure-http", false, "allow a non-loopback --http-addr without TLS")
	fs.Int("engines", d.Engines, "engine processes in the pool")
	fs.Int("max-behind", d.MaxBehind, "submitted blocks the pipeline may lag before submit answers 429")
	fs.Int64("max-body-bytes", d.MaxBody, "largest ingest request body")
	fs.Int("depth", d.Depth, "balance tree depth of the tx circuit")
	fs.Int("txs-per-block", d.TxsPerBlock, "transactions per block (fixed by the batch circuit)")
	fs.Int("bundle-size", d.BundleSize, "blocks per aggregate proof")
	fs.Int("retries", d.Retries, "retries of a failed proof after the pool's own")
	fs.Duration("shutdown-grace", d.ShutdownFor, "how long SIGTERM lets proofs in flight finish")
	fs.StringSlice("remote-engines", nil, "HOST:PORT of remote engines (proofd engine serve --listen tcp://…), comma-separated")
	fs.String("remote-tls-cert", "", "client certificate (PEM) the node shows remote engines")
	fs.String("remote-tls-key", "", "its private key (PEM)")
	fs.String("remote-tls-ca", "", "CA certificate (PEM) that signed the remote engines' certificates")
}

// Load reads the config file (if path is not empty), then PROOFD_*
// environment variables, then the flags set on fs, over the defaults, and
// validates the result, reporting every problem at once.
func Load(path string, fs *pflag.FlagSet, environ func() []string) (Config, error) {
	cfg := Defaults()
	if err := konf.Load(&cfg, configKeys, path, fs, environ); err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

var configKeys = konf.Keys{
	Known: map[string]bool{
		"data-dir": true, "keys-dir": true, "http-addr": true, "allow-insecure-http": true, "engines": true, "max-behind": true,
		"max-body-bytes": true, "depth": true, "txs-per-block": true, "bundle-size": true, "retries": true,
		"shutdown-grace": true, "config": true, "check": true,
		"remote-engines": true, "remote-tls-cert": true, "remote-tls-key": true, "remote-tls-ca": true,
		"nats": true, "nats-node": true, "nats-creds": true, "nats-nkey": true, "nats-tls-cert": true, "nats-tls-key": true,
		"nats-tls-ca": true, "nats-replicas": true, "nats-class-tx": true, "nats-class-batch": true, "nats-class-aggregate": true,
	},
	Lists:    map[string]bool{"remote-engines": true},
	FlagOnly: map[string]bool{"config": true, "check": true},
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("data-dir: empty"))
	}
	host, _, err := net.SplitHostPort(c.HTTPAddr)
	switch {
	case err != nil:
		errs = append(errs, fmt.Errorf("http-addr %q: %w", c.HTTPAddr, err))
	case !loopback(host) && !c.AllowInsecureHTTP:
		errs = append(errs, fmt.Errorf("http-addr %q: not a loopback address, and the listener has no TLS; set allow-insecure-http to bind it anyway", c.HTTPAddr))
	}
	if c.Engines < 1 {
		errs = append(errs, fmt.Errorf("engines: %d, need at least 1", c.Engines))
	}
	if c.MaxBehind < 1 {
		errs = append(errs, fmt.Errorf("max-behind: %d, need at least 1", c.MaxBehind))
	}
	if c.MaxBody < 1024 {
		errs = append(errs, fmt.Errorf("max-body-bytes: %d, need at least 1024", c.MaxBody))
	}
	if c.Retries < 0 {
		errs = append(errs, fmt.Errorf("retries: %d is negative", c.Retries))
	}
	if c.ShutdownFor < 0 {
		errs = append(errs, fmt.Errorf("shutdown-grace: %s is negative", c.ShutdownFor))
	}
	if len(c.RemoteEngines) > 0 {
		for _, addr := range c.RemoteEngines {
			if _, _, err := net.SplitHostPort(addr); err != nil {
				errs = append(errs, fmt.Errorf("remote-engines: %q: %w", addr, err))
			}
		}
		for key, file := range map[string]string{"remote-tls-cert": c.RemoteCert, "remote-tls-key": c.RemoteKey, "remote-tls-ca": c.RemoteCA} {
			if file == "" {
				errs = append(errs, fmt.Errorf("%s: required with remote-engines (remote engines take mutual TLS only)", key))
			} else if _, err := os.Stat(file); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", key, err))
			}
		}
	}
	p := c.Params()
	if err := p.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Effective is the configuration by its keys, as a node prints it at start.
func (c Config) Effective() map[string]any {
	return map[string]any{
		"data-dir": c.DataDir, "keys-dir": c.keysDir(), "http-addr": c.HTTPAddr, "allow-insecure-http": c.AllowInsecureHTTP,
		"engines": c.Engines, "max-behind": c.MaxBehind, "max-body-bytes": c.MaxBody, "depth": c.Depth,
		"txs-per-block": c.TxsPerBlock, "bundle-size": c.BundleSize, "retries": c.Retries,
		"shutdown-grace": c.ShutdownFor.String(), "remote-engines": c.RemoteEngines,
		"remote-tls-cert": c.RemoteCert, "remote-tls-key": c.RemoteKey, "remote-tls-ca": c.RemoteCA,
	}
}

func (c Config) keysDir() string {
	if c.KeysDir == "" {
		return filepath.Join(c.DataDir, "keys")
	}
	return c.KeysDir
}

// Params are the rollup parameters the configuration gives.
func (c Config) Params() rollup.Params {
	return rollup.Params{Depth: c.Depth, TxsPerBlock: c.TxsPerBlock, BundleSize: c.BundleSize}
}

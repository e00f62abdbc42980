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
	"github.com/proofd/proofd/pipeline"
	"github.com/proofd/proofd/queue"
	"github.com/proofd/proofd/queue/natsq"
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
	// NATS, when set, is the URL of a NATS JetStream cluster: proofs and
	// verifications go to `proofd worker` hosts through it instead of the
	// local pool, which then only runs setup (docs/scale.md).
	NATS string `koanf:"nats"`
	// NATSNode names this node's results on the cluster.
	NATSNode     string `koanf:"nats-node"`
	NATSCreds    string `koanf:"nats-creds"`
	NATSNKey     string `koanf:"nats-nkey"`
	NATSTLSCert  string `koanf:"nats-tls-cert"`
	NATSTLSKey   string `koanf:"nats-tls-key"`
	NATSTLSCA    string `koanf:"nats-tls-ca"`
	NATSReplicas int    `koanf:"nats-replicas"`
	// The resource class of each stage's jobs: workers take the classes
	// they are configured for.
	NATSClassTx        string `koanf:"nats-class-tx"`
	NATSClassBatch     string `koanf:"nats-class-batch"`
	NATSClassAggregate string `koanf:"nats-class-aggregate"`
	// MaxProving bounds the proofs in flight at once: by default the
	// engines, or 32 with nats (the workers' slots, roughly).
	MaxProving int `koanf:"max-proving"`
}

func (c Config) maxProving() int {
	switch {
	case c.MaxProving > 0:
		return c.MaxProving
	case c.NATS != "":
		return 32
	}
	return c.Engines
}

// NATSConn is how the node reaches NATS.
func (c Config) NATSConn() natsq.ConnConfig {
	return natsq.ConnConfig{URL: c.NATS, Name: "proofd node " + c.NATSNode, Creds: c.NATSCreds, NKey: c.NATSNKey,
		TLSCert: c.NATSTLSCert, TLSKey: c.NATSTLSKey, TLSCA: c.NATSTLSCA}
}

// Classes are the stages' resource classes, indexed by pipeline.Stage.
func (c Config) Classes() [3]string {
	return [3]string{c.NATSClassTx, c.NATSClassBatch, c.NATSClassAggregate}
}

// Defaults is the configuration before file, environment and flags.
func Defaults() Config {
	return Config{
		DataDir: "proofd-data", HTTPAddr: "127.0.0.1:8547", Engines: 2, MaxBehind: 16, MaxBody: 1 << 20,
		Depth: 8, TxsPerBlock: 2, BundleSize: 4, Retries: 2, ShutdownFor: 5 * time.Second,
		NATSNode: "proofd", NATSReplicas: 1, NATSClassTx: queue.DefaultClass, NATSClassBatch: queue.DefaultClass,
		NATSClassAggregate: queue.DefaultClass,
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
	fs.String("nats", "", "NATS URL(s): prove on `proofd worker` hosts through JetStream instead of the local pool")
	fs.String("nats-node", d.NATSNode, "this node's name on the NATS cluster (its results' subjects)")
	fs.String("nats-creds", "", "NATS user credentials file")
	fs.String("nats-nkey", "", "NATS nkey seed file")
	fs.String("nats-tls-cert", "", "client certificate (PEM) shown to NATS")
	fs.String("nats-tls-key", "", "its private key (PEM)")
	fs.String("nats-tls-ca", "", "CA certificate (PEM) that signed the NATS servers' certificates")
	fs.Int("nats-replicas", d.NATSReplicas, "replicas of proofd's JetStream streams (3 on a cluster of 3)")
	fs.String("nats-class-tx", d.NATSClassTx, "resource class of tx proofs")
	fs.String("nats-class-batch", d.NATSClassBatch, "resource class of batch proofs")
	fs.String("nats-class-aggregate", d.NATSClassAggregate, "resource class of aggregate proofs")
	fs.Int("max-proving", 0, "proofs in flight at once (default: engines, or 32 with nats)")
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
		"max-proving": true,
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
	if c.MaxProving < 0 {
		errs = append(errs, fmt.Errorf("max-proving: %d is negative", c.MaxProving))
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
	if c.NATS != "" {
		if err := c.NATSConn().Validate(); err != nil {
			errs = append(errs, err)
		}
		if err := queue.CheckToken(c.NATSNode, queue.MaxNodeLen); err != nil {
			errs = append(errs, fmt.Errorf("nats-node %q: %w", c.NATSNode, err))
		}
		for i, cl := range c.Classes() {
			if err := queue.CheckToken(cl, 32); err != nil {
				errs = append(errs, fmt.Errorf("nats-class-%s %q: %w", pipeline.Stage(i), cl, err))
			}
		}
		if c.NATSReplicas < 1 {
			errs = append(errs, fmt.Errorf("nats-replicas: %d, need at least 1", c.NATSReplicas))
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
		// The URL without any password or token in it; the secrets' files
		// by path only.
		"nats": natsq.Redact(c.NATS), "nats-node": c.NATSNode, "nats-creds": c.NATSCreds, "nats-nkey": c.NATSNKey,
		"nats-tls-cert": c.NATSTLSCert, "nats-tls-key": c.NATSTLSKey, "nats-tls-ca": c.NATSTLSCA, "nats-replicas": c.NATSReplicas,
		"nats-class-tx": c.NATSClassTx, "nats-class-batch": c.NATSClassBatch, "nats-class-aggregate": c.NATSClassAggregate,
		"max-proving": c.maxProving(),
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

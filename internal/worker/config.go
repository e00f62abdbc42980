package worker

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/proofd/proofd/artifact/artcache"
	"github.com/proofd/proofd/internal/konf"
	"github.com/proofd/proofd/queue"
	"github.com/proofd/proofd/queue/natsq"
)

// Config is a worker's configuration: YAML keys of --config, flags and
// PROOFD_* variables, as for the node (internal/konf).
type Config struct {
	NATS        string        `koanf:"nats"`
	Creds       string        `koanf:"nats-creds"`
	NKey        string        `koanf:"nats-nkey"`
	TLSCert     string        `koanf:"nats-tls-cert"`
	TLSKey      string        `koanf:"nats-tls-key"`
	TLSCA       string        `koanf:"nats-tls-ca"`
	Replicas    int           `koanf:"nats-replicas"`
	Name        string        `koanf:"name"`
	Classes     []string      `koanf:"classes"`
	Engines     int           `koanf:"engines"`
	AckWait     time.Duration `koanf:"ack-wait"`
	MaxDeliver  int           `koanf:"max-deliver"`
	Grace       time.Duration `koanf:"drain-grace"`
	CacheDir    string        `koanf:"cache-dir"`
	CacheBytes  int64         `koanf:"cache-bytes"`
	CacheMem    int64         `koanf:"cache-mem-bytes"`
	MetricsAddr string        `koanf:"metrics-addr"`
	// AllowInsecureMetrics permits a non-loopback metrics listener.
	AllowInsecureMetrics bool `koanf:"allow-insecure-metrics"`
}

// Defaults is the configuration before file, environment and flags.
func Defaults() Config {
	host, _ := os.Hostname()
	return Config{
		Replicas: 1, Name: host, Classes: []string{queue.DefaultClass}, Engines: 2, AckWait: 30 * time.Second,
		MaxDeliver: 3, Grace: 30 * time.Second, CacheDir: "proofd-worker-cache",
		CacheBytes: artcache.DefaultDiskBytes, CacheMem: artcache.DefaultMemBytes,
	}
}

var keys = konf.Keys{
	Known: map[string]bool{
		"nats": true, "nats-creds": true, "nats-nkey": true, "nats-tls-cert": true, "nats-tls-key": true, "nats-tls-ca": true,
		"nats-replicas": true, "name": true, "classes": true, "engines": true, "ack-wait": true, "max-deliver": true,
		"drain-grace": true, "cache-dir": true, "cache-bytes": true, "cache-mem-bytes": true, "metrics-addr": true,
		"allow-insecure-metrics": true, "config": true, "check": true,
	},
	Lists:    map[string]bool{"classes": true},
	FlagOnly: map[string]bool{"config": true, "check": true},
}

// Flags declares every key as a flag on fs.
func Flags(fs *pflag.FlagSet) {
	d := Defaults()
	fs.String("nats", "", "NATS URL(s) of the JetStream cluster to take jobs from (required)")
	fs.String("nats-creds", "", "NATS user credentials file")
	fs.String("nats-nkey", "", "NATS nkey seed file")
	fs.String("nats-tls-cert", "", "client certificate (PEM) shown to NATS")
	fs.String("nats-tls-key", "", "its private key (PEM)")
	fs.String("nats-tls-ca", "", "CA certificate (PEM) that signed the NATS servers' certificates")
	fs.Int("nats-replicas", d.Replicas, "replicas of proofd's JetStream streams (as the node says)")
	fs.String("name", d.Name, "this worker's name in results and logs")
	fs.StringSlice("classes", d.Classes, "resource classes of jobs this host runs, comma-separated")
	fs.Int("engines", d.Engines, "engine processes: jobs run at once")
	fs.Duration("ack-wait", d.AckWait, "a job not heard of for this long goes to another worker (a live worker reports every third of it)")
	fs.Int("max-deliver", d.MaxDeliver, "workers a job may be handed to before it is dead-lettered as poison")
	fs.Duration("drain-grace", d.Grace, "on SIGTERM, how long jobs in flight may finish before they are handed back")
	fs.String("cache-dir", d.CacheDir, "this host's artifact cache")
	fs.Int64("cache-bytes", d.CacheBytes, "artifact cache budget on disk")
	fs.Int64("cache-mem-bytes", d.CacheMem, "artifact cache budget in memory")
	fs.String("metrics-addr", "", "serve Prometheus metrics on this address (loopback unless allow-insecure-metrics)")
	fs.Bool("allow-insecure-metrics", false, "allow a non-loopback metrics-addr")
}

// Load reads the configuration (see konf.Load) and validates it.
func Load(path string, fs *pflag.FlagSet, environ func() []string) (Config, error) {
	cfg := Defaults()
	if err := konf.Load(&cfg, keys, path, fs, environ); err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

// Conn is how the worker reaches NATS.
func (c Config) Conn() natsq.ConnConfig {
	return natsq.ConnConfig{URL: c.NATS, Name: "proofd worker " + c.Name, Creds: c.Creds, NKey: c.NKey,
		TLSCert: c.TLSCert, TLSKey: c.TLSKey, TLSCA: c.TLSCA}
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.NATS == "" {
		errs = append(errs, errors.New("nats: required (the URL of the JetStream cluster)"))
	} else if err := c.Conn().Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Engines < 1 {
		errs = append(errs, fmt.Errorf("engines: %d, need at least 1", c.Engines))
	}
	if c.Replicas < 1 {
		errs = append(errs, fmt.Errorf("nats-replicas: %d, need at least 1", c.Replicas))
	}
	if len(c.Name) > queue.MaxNameLen || c.Name == "" {
		errs = append(errs, fmt.Errorf("name: %q: 1 to %d bytes", c.Name, queue.MaxNameLen))
	}
	wc := natsq.WorkerConfig{Classes: c.Classes, Slots: c.Engines, AckWait: c.AckWait, MaxDeliver: c.MaxDeliver}
	if err := wc.Validate(); err != nil {
		errs = append(errs, err)
	}
	ac := artcache.Options{Dir: c.CacheDir, DiskBytes: c.CacheBytes, MemBytes: c.CacheMem}
	if err := ac.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.MetricsAddr != "" {
		host, _, err := net.SplitHostPort(c.MetricsAddr)
		ip := net.ParseIP(host)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("metrics-addr %q: %w", c.MetricsAddr, err))
		case !(host == "localhost" || ip != nil && ip.IsLoopback()) && !c.AllowInsecureMetrics:
			errs = append(errs, fmt.Errorf("metrics-addr %q: not loopback; set allow-insecure-metrics to bind it", c.MetricsAddr))
		}
	}
	return errors.Join(errs...)
}

// Effective is the configuration by its keys, secrets left out.
func (c Config) Effective() map[string]any {
	return map[string]any{
		"nats": natsq.Redact(c.NATS), "nats-creds": c.Creds, "nats-nkey": c.NKey, "nats-tls-cert": c.TLSCert,
		"nats-tls-key": c.TLSKey, "nats-tls-ca": c.TLSCA, "nats-replicas": c.Replicas, "name": c.Name,
		"classes": c.Classes, "engines": c.Engines, "ack-wait": c.AckWait.String(), "max-deliver": c.MaxDeliver,
		"drain-grace": c.Grace.String(), "cache-dir": c.CacheDir, "cache-bytes": c.CacheBytes,
		"cache-mem-bytes": c.CacheMem, "metrics-addr": c.MetricsAddr, "allow-insecure-metrics": c.AllowInsecureMetrics,
	}
}

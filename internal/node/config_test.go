package node

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestConfigPrecedence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.yaml")
	if err := os.WriteFile(path, []byte("engines: 3\ndepth: 6\nbundle-size: 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fs := pflag.NewFlagSet("node", pflag.ContinueOnError)
	Flags(fs)
	if err := fs.Parse([]string{"--depth", "5"}); err != nil {
		t.Fatal(err)
	}
	env := func() []string { return []string{"PROOFD_ENGINES=4", "PROOFD_DEPTH=7", "PROOFD_DEBUG_DIR=/x"} }
	cfg, err := Load(path, fs, env)
	if err != nil {
		t.Fatal(err)
	}
	// flag > environment > file > default
	if cfg.Depth != 5 || cfg.Engines != 4 || cfg.BundleSize != 2 || cfg.TxsPerBlock != Defaults().TxsPerBlock {
		t.Fatalf("config %+v", cfg)
	}
}

func TestConfigReportsEveryProblem(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.yaml")
	os.WriteFile(path, []byte("engines: 0\nmax-behind: 0\nhttp-addr: 0.0.0.0:8547\ndepth: 99\n"), 0o600)
	_, err := Load(path, nil, func() []string { return nil })
	if err == nil {
		t.Fatal("a bad config loaded")
	}
	for _, want := range []string{"engines", "max-behind", "http-addr", "not a loopback", "Depth"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not name %q:\n%v", want, err)
		}
	}
	os.WriteFile(path, []byte("engins: 2\n"), 0o600)
	if _, err := Load(path, nil, func() []string { return nil }); err == nil || !strings.Contains(err.Error(), `"engins"`) {
		t.Errorf("a misspelt key: %v", err)
	}
	os.WriteFile(path, []byte("http-addr: 0.0.0.0:8547\nallow-insecure-http: true\n"), 0o600)
	if _, err := Load(path, nil, func() []string { return nil }); err != nil {
		t.Errorf("allow-insecure-http did not allow the bind: %v", err)
	}
}

func TestConfigRemoteEngines(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"c.pem", "k.pem", "ca.pem"} {
		os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600)
	}
	env := func() []string {
		return []string{"PROOFD_REMOTE_ENGINES=10.0.0.7:7001,10.0.0.8:7001", "PROOFD_REMOTE_TLS_CERT=" + filepath.Join(dir, "c.pem"),
			"PROOFD_REMOTE_TLS_KEY=" + filepath.Join(dir, "k.pem"), "PROOFD_REMOTE_TLS_CA=" + filepath.Join(dir, "ca.pem")}
	}
	cfg, err := Load("", nil, env)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.RemoteEngines) != 2 || cfg.RemoteEngines[1] != "10.0.0.8:7001" {
		t.Fatalf("remote-engines from the environment: %q", cfg.RemoteEngines)
	}
	// Remote engines without their TLS files, or with an address that is
	// not HOST:PORT, are refused, every problem named.
	_, err = Load("", nil, func() []string {
		return []string{"PROOFD_REMOTE_ENGINES=nohostport", "PROOFD_REMOTE_TLS_CA=/nonexistent"}
	})
	for _, want := range []string{`"nohostport"`, "remote-tls-cert: required", "remote-tls-key: required", "remote-tls-ca", "/nonexistent"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not name %q:\n%v", want, err)
		}
	}
}

func TestNATSConfig(t *testing.T) {
	env := func() []string {
		return []string{"PROOFD_NATS=nats://node:s3cret@10.0.0.1:4222,nats://10.0.0.2:4222", "PROOFD_NATS_CLASS_BATCH=gpu"}
	}
	cfg, err := Load("", nil, env)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Classes() != [3]string{"cpu", "gpu", "cpu"} || cfg.maxProving() != 32 {
		t.Fatalf("classes %v, max-proving %d", cfg.Classes(), cfg.maxProving())
	}
	eff := cfg.Effective()
	if got := eff["nats"]; got != "nats://REDACTED@10.0.0.1:4222,nats://10.0.0.2:4222" {
		t.Fatalf("effective nats = %v", got)
	}
	bad := func() []string {
		return []string{"PROOFD_NATS=nats://x:4222", "PROOFD_NATS_NODE=a.b", "PROOFD_NATS_CLASS_TX=", "PROOFD_NATS_CREDS=c", "PROOFD_NATS_NKEY=k", "PROOFD_NATS_REPLICAS=0"}
	}
	_, err = Load("", nil, bad)
	for _, want := range []string{"nats-node", "nats-class-tx", "exclusive", "nats-replicas"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}

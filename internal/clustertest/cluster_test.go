package clustertest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nkeys"
	"github.com/proofd/proofd/engine/devcert"
	"github.com/proofd/proofd/engine/enginetest"
	"github.com/proofd/proofd/examples/rollup"
	"github.com/proofd/proofd/internal/netns"
	"github.com/proofd/proofd/internal/node"
	ingestv1 "github.com/proofd/proofd/proto/ingestv1"
	"github.com/proofd/proofd/receipts"
	"google.golang.org/protobuf/encoding/protojson"
)

// proxyEnv makes the test binary a proxy from a Unix socket to a TCP
// address inside a host's namespace: the test, in the root namespace, has
// no route to the hosts, but a socket file is reachable from anywhere.
const proxyEnv = "PROOFD_CLUSTERTEST_PROXY"

func TestMain(m *testing.M) {
	if spec := os.Getenv(proxyEnv); spec != "" {
		unixPath, tcpAddr, _ := strings.Cut(spec, " ")
		if err := proxy(unixPath, tcpAddr); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	enginetest.Main(m)
}

func proxy(unixPath, tcpAddr string) error {
	ln, err := net.Listen("unix", unixPath)
	if err != nil {
		return err
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			up, err := net.Dial("tcp", tcpAddr)
			if err != nil {
				return
			}
			defer up.Close()
			go io.Copy(up, c)
			io.Copy(c, up)
		}()
	}
}

// proc is a process of the test's cluster, its output kept.
type proc struct {
	name string
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// logLines are the process's JSON log lines with msg equal to msg.
func (p *proc) logLines(msg string) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(p.output()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

func (p *proc) signal(sig syscall.Signal) { p.cmd.Process.Signal(sig) }

func (p *proc) wait(t *testing.T, within time.Duration) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(within):
		t.Fatalf("%s did not exit within %s", p.name, within)
	}
}

type cluster struct {
	t     *testing.T
	procs []*proc
}

func (c *cluster) start(h *netns.Host, name string, env []string, bin string, args ...string) *proc {
	c.t.Helper()
	p := &proc{name: name, done: make(chan struct{})}
	p.cmd = h.Command(context.Background(), bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = p, p
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		c.t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	c.procs = append(c.procs, p)
	return p
}

// stop kills what is still running; on failure it prints every process's
// output.
func (c *cluster) stop() {
	for _, p := range c.procs {
		p.cmd.Process.Kill()
		<-p.done
		if c.t.Failed() {
			out := p.output()
			if len(out) > 20000 {
				out = out[len(out)-20000:]
			}
			c.t.Logf("=== %s\n%s", p.name, out)
		}
	}
}

// buildNATS builds the real nats-server at the version go.mod pins.
func buildNATS(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "nats-server")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/nats-io/nats-server/v2")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build nats-server: %v\n%s", err, out)
	}
	return bin
}

func TestClusterSurvivesWorkerDeathNetworkCutAndServerDeath(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a NATS cluster, a node and two workers as processes (~3 min)")
	}
	netns.Require(t)
	nt := netns.New(t, 6)
	natsBin, proofd := buildNATS(t), enginetest.Proofd(t)
	c := &cluster{t: t}
	defer c.stop()

	// Three NATS servers, one per host, clustered, JetStream on. Clients
	// cross hosts, so they speak mutual TLS and authenticate with nkeys:
	// one for the node, one the workers share.
	sec := security(t, nt.Hosts[:3])
	var routes, urls []string
	for _, h := range nt.Hosts[:3] {
		routes = append(routes, "nats://"+h.Addr+":6222")
		urls = append(urls, "tls://"+h.Addr+":4222")
	}
	var servers []*proc
	for i, h := range nt.Hosts[:3] {
		conf := filepath.Join(t.TempDir(), "nats.conf")
		writeFile(t, conf, fmt.Sprintf(`server_name: s%d
listen: "%s:4222"
jetstream { store_dir: %q }
cluster { name: proofd, listen: "%s:6222", routes: [%s] }
tls { cert_file: %q, key_file: %q, ca_file: %q, verify: true }
authorization { users: [ { nkey: %s }, { nkey: %s } ] }
`, i, h.Addr, t.TempDir(), h.Addr, strings.Join(routes, ", "), sec.serverCert, sec.serverKey, sec.ca, sec.nodeUser, sec.workerUser))
		servers = append(servers, c.start(h, fmt.Sprintf("nats-%d", i), nil, natsBin, "-c", conf))
	}
	natsURL := strings.Join(urls, ",")
	tlsArgs := []string{"--nats-tls-cert", sec.clientCert, "--nats-tls-key", sec.clientKey, "--nats-tls-ca", sec.ca}

	// The node, and a proxy to its HTTP listener.
	nodeHost := nt.Hosts[3]
	dataDir := t.TempDir()
	params := []string{"--depth", "4", "--txs-per-block", "1", "--bundle-size", "2"}
	n := c.start(nodeHost, "node", nil, proofd, append([]string{"node", "--data-dir", dataDir, "--http-addr", nodeHost.Addr + ":8547",
		"--allow-insecure-http", "--nats", natsURL, "--nats-replicas", "3", "--engines", "1", "--max-behind", "2",
		"--retries", "5", "--shutdown-grace", "3s", "--nats-nkey", sec.nodeSeed}, append(tlsArgs, params...)...)...)
	sock := filepath.Join(t.TempDir(), "node.sock")
	c.start(nodeHost, "proxy", []string{proxyEnv + "=" + sock + " " + nodeHost.Addr + ":8547"}, os.Args[0])
	api := &api{t: t, c: &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}}

	// Two workers; a job not heard of for 3 s moves.
	workerArgs := func(name string) []string {
		return append([]string{"worker", "--nats", natsURL, "--nats-replicas", "3", "--name", name, "--engines", "1",
			"--ack-wait", "3s", "--cache-dir", filepath.Join(dataDir, "cache-"+name), "--drain-grace", "2s",
			"--nats-nkey", sec.workerSeed}, tlsArgs...)
	}
	workers := map[*netns.Host]*proc{}
	workers[nt.Hosts[4]] = c.start(nt.Hosts[4], "worker-a", nil, proofd, workerArgs("a")...)
	workers[nt.Hosts[5]] = c.start(nt.Hosts[5], "worker-b", nil, proofd, workerArgs("b")...)

	api.waitReady(n, 5*time.Minute)
	// The chain goes in three parts, so that each event meets work to do:
	// blocks 1–2 for the worker's death, 3–4 for the cut, and 5, 6, the
	// fork at 6 and the flip back for the worker that rejoined, alone.
	reqs := simulate(t)
	if len(reqs) != 8 || reqs[6].Method != "SubmitBlock" || reqs[7].Method != "SetHead" {
		t.Fatalf("the simulated chain changed shape (%d calls): this test splits it by position", len(reqs))
	}
	api.submit(reqs[:2])

	// 1. A worker dies mid-proof: SIGKILL while it proves a batch (BW6-761,
	// seconds), then a new worker takes its host.
	host, job := waitBatchTaken(t, workers, nil, 5*time.Minute)
	workers[host].signal(syscall.SIGKILL)
	t.Logf("killed %s proving %s", workers[host].name, job[:24])
	killedJob := job
	workers[host] = c.start(host, workers[host].name+"-2", nil, proofd, workerArgs(workers[host].name+"-2")...)
	waitDone(t, workers, killedJob, 2*time.Minute)

	// 2. A worker is cut off mid-proof; its job moves; it comes back.
	api.submit(reqs[2:4])
	host, job = waitBatchTaken(t, workers, map[string]bool{killedJob: true}, 5*time.Minute)
	if err := host.Cut(); err != nil {
		t.Fatal(err)
	}
	t.Logf("cut %s off while it proves %s", workers[host].name, job[:24])
	others := map[*netns.Host]*proc{}
	for h, p := range workers {
		if h != host {
			others[h] = p
		}
	}
	waitDone(t, others, job, 2*time.Minute)
	if err := host.Restore(); err != nil {
		t.Fatal(err)
	}
	// The other worker drains and leaves (SIGTERM): from here on the chain
	// settles only if the worker that was cut off has rejoined.
	cutOff := workers[host]
	for h, p := range others {
		p.signal(syscall.SIGTERM)
		p.wait(t, 30*time.Second)
		if code := p.cmd.ProcessState.ExitCode(); code != 0 {
			t.Fatalf("%s exited %d after SIGTERM", p.name, code)
		}
		delete(workers, h)
	}
	answeredBefore := len(cutOff.logLines("job done"))

	// 3. A NATS server dies; the cluster of two carries on.
	servers[0].signal(syscall.SIGKILL)
	t.Log("killed NATS server s0")

	api.submit(reqs[4:])
	if t.Failed() {
		return
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		st := api.status()
		if st.SettlementHeight == tipHeight && st.GetTip().GetHeight() == tipHeight {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no settlement at height %d: tip %v, settled %d, stages %v", tipHeight, st.Tip, st.SettlementHeight, st.Stages)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if n := len(cutOff.logLines("job done")); n == answeredBefore {
		t.Fatalf("%s answered no job after its link came back, yet the chain settled: the test left it nothing to show", cutOff.name)
	} else {
		t.Logf("%s rejoined and answered %d jobs alone", cutOff.name, n-answeredBefore)
	}
	made := api.metric("proofd_pipeline_proofs_made_total")
	n.signal(syscall.SIGTERM)
	n.wait(t, time.Minute)

	// Every proof the node made is one receipt it holds: nothing durable
	// was proven again, and the killed worker's job has its receipt.
	store, err := receipts.Open(filepath.Join(dataDir, "receipts"), receipts.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	stored, haveKilled := 0, false
	store.Keys(func(k receipts.Key) error {
		stored++
		haveKilled = haveKilled || k.String() == killedJob
		return nil
	})
	if float64(stored) != made || !haveKilled {
		t.Fatalf("the node made %v proofs and holds %d receipts (the killed worker's job among them: %v)", made, stored, haveKilled)
	}
	t.Logf("the chain settled at %d; %d receipts, each proven once by the node", tipHeight, stored)
}

// tipHeight is the simulated chain's final tip.
const tipHeight = 6

// secrets are the cluster's TLS files and nkeys, written to files.
type secrets struct {
	ca, serverCert, serverKey, clientCert, clientKey string
	nodeUser, workerUser                             string // public nkeys
	nodeSeed, workerSeed                             string // seed files
}

func security(t *testing.T, servers []*netns.Host) secrets {
	t.Helper()
	var hosts []string
	for _, h := range servers {
		hosts = append(hosts, h.Addr)
	}
	set, err := devcert.Generate(hosts, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := set.Write(dir); err != nil {
		t.Fatal(err)
	}
	f := devcert.Files(dir) // ca, ca key, server, server key, client, client key
	s := secrets{ca: f[0], serverCert: f[2], serverKey: f[3], clientCert: f[4], clientKey: f[5]}
	user := func(name string) (pub, seedFile string) {
		kp, err := nkeys.CreateUser()
		if err != nil {
			t.Fatal(err)
		}
		pub, _ = kp.PublicKey()
		seed, _ := kp.Seed()
		seedFile = filepath.Join(dir, name+".nk")
		writeFile(t, seedFile, string(seed))
		return pub, seedFile
	}
	s.nodeUser, s.nodeSeed = user("node")
	s.workerUser, s.workerSeed = user("worker")
	return s
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// simulate is the chain the node is sent: blocks 1 to 6, a fork block at 6
// and the flip back (SetHead), no finality (so no receipt is pruned and all
// can be counted).
func simulate(t *testing.T) []node.SimRequest {
	t.Helper()
	var buf bytes.Buffer
	p := rollup.Params{Depth: 4, TxsPerBlock: 1, BundleSize: 2}
	if err := node.WriteSimulated(&buf, rollup.SimConfig{Params: p, Seed: 7, Blocks: tipHeight, Reorgs: 1, FinalityDepth: 1000}); err != nil {
		t.Fatal(err)
	}
	var reqs []node.SimRequest
	for dec := json.NewDecoder(&buf); dec.More(); {
		var r node.SimRequest
		if err := dec.Decode(&r); err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, r)
	}
	return reqs
}

// batchJob: a receipt key's kind byte (after the 8-byte checkpoint and the
// 32-byte block hash) is 2 for a batch.
func batchJob(id string) bool { return len(id) > 82 && id[80:82] == "02" }

// waitBatchTaken waits until a worker has taken a batch job not in skip and
// not yet done, and names the worker's host and the job.
func waitBatchTaken(t *testing.T, workers map[*netns.Host]*proc, skip map[string]bool, within time.Duration) (*netns.Host, string) {
	t.Helper()
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for h, p := range workers {
			done := map[string]bool{}
			for _, l := range p.logLines("job done") {
				done[fmt.Sprint(l["job"])] = true
			}
			for _, l := range p.logLines("job taken") {
				id := fmt.Sprint(l["job"])
				if batchJob(id) && !skip[id] && !done[id] {
					return h, id
				}
			}
		}
	}
	t.Fatal("no worker took a batch job")
	return nil, ""
}

// waitDone waits until one of workers answered job.
func waitDone(t *testing.T, workers map[*netns.Host]*proc, job string, within time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for _, p := range workers {
			for _, l := range p.logLines("job done") {
				if l["job"] == job {
					t.Logf("%s answered %s (delivery %v)", p.name, job[:24], l["delivery"])
					return
				}
			}
		}
	}
	t.Fatalf("no other worker answered %s", job[:24])
}

// api talks to the node through the proxy.
type api struct {
	t *testing.T
	c *http.Client
}

func (a *api) post(method, body string) (int, string) {
	resp, err := a.c.Post("http://node/proofd.ingest.v1.IngestService/"+method, "application/json", strings.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (a *api) waitReady(n *proc, within time.Duration) {
	a.t.Helper()
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		select {
		case <-n.done:
			a.t.Fatal("the node exited")
		default:
		}
		if resp, err := a.c.Get("http://node/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
	}
	a.t.Fatal("the node was not ready in time")
}

// submit sends the chain, waiting out 429s and the node's brief
// unavailability while NATS fails over.
func (a *api) submit(reqs []node.SimRequest) {
	for _, r := range reqs {
		deadline := time.Now().Add(5 * time.Minute)
		for {
			code, body := a.post(r.Method, string(r.Body))
			if code == http.StatusOK {
				break
			}
			if time.Now().After(deadline) || code != http.StatusTooManyRequests && code != 0 && code != http.StatusServiceUnavailable {
				a.t.Errorf("%s: %d %s", r.Method, code, body)
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

func (a *api) status() *ingestv1.GetStatusResponse {
	a.t.Helper()
	code, body := a.post("GetStatus", "{}")
	if code != http.StatusOK {
		a.t.Fatalf("GetStatus: %d %s", code, body)
	}
	st := &ingestv1.GetStatusResponse{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal([]byte(body), st); err != nil {
		a.t.Fatalf("GetStatus: %v: %s", err, body)
	}
	return st
}

// metric sums a counter's samples on the node's /metrics.
func (a *api) metric(name string) float64 {
	a.t.Helper()
	resp, err := a.c.Get("http://node/metrics")
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	sum := 0.0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, name+"{") || strings.HasPrefix(line, name+" ") {
			var v float64
			fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v)
			sum += v
		}
	}
	return sum
}

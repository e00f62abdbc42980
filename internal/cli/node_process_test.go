package cli_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/proofd/proofd/engine/devcert"
	"github.com/proofd/proofd/engine/enginetest"
	"github.com/proofd/proofd/engine/protocol"
	"github.com/proofd/proofd/internal/node"
	"github.com/proofd/proofd/pipeline/chainlog"
)

// remoteEngine starts `proofd engine serve` on a loopback TCP port with
// mutual TLS and returns its address; it stops with the test.
func remoteEngine(t *testing.T, bin string, certs func(string) string) string {
	t.Helper()
	cmd := exec.Command(bin, "engine", "serve", "--exit-on-stdin-eof", "--listen", "tcp://127.0.0.1:0",
		"--tls-cert", certs(devcert.ServerFile), "--tls-key", certs(devcert.ServerKeyFile), "--client-ca", certs(devcert.CAFile))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Error("the remote engine did not exit when its stdin closed")
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("remote engine announce: %v", err)
	}
	a, err := protocol.ParseAnnouncement(line)
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, stdout)
	return a.Address
}

// nodeProc is a `proofd node` process.
type nodeProc struct {
	cmd  *exec.Cmd
	base string
	done chan error
	logs *bytes.Buffer
}

var listening = regexp.MustCompile(`"msg":"node listening","http":"([^"]+)"`)

func startNode(t *testing.T, bin string, args ...string) *nodeProc {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"node", "--config", filepath.Join("..", "..", "examples", "node.yaml")}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n := &nodeProc{cmd: cmd, done: make(chan error, 1), logs: &bytes.Buffer{}}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			n.logs.WriteString(sc.Text() + "\n") // read only after done
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		n.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-n.done
		}
	})
	select {
	case a := <-addr:
		n.base = "http://" + a
	case err := <-n.done:
		t.Fatalf("node exited at start: %v\n%s", err, n.logs)
	case <-time.After(time.Minute):
		t.Fatal("node did not listen within a minute")
	}
	waitFor(t, "the node to be ready", 5*time.Minute, func() bool {
		resp, err := http.Get(n.base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return n
}

// stop sends SIGTERM and wants exit status 0 within the grace and a margin.
func (n *nodeProc) stop(t *testing.T) {
	t.Helper()
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-n.done:
		if err != nil {
			t.Fatalf("node after SIGTERM: %v\n%s", err, n.logs)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("node still running 30 s after SIGTERM")
	}
}

func waitFor(t *testing.T, what string, limit time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", limit, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// post calls an ingest method with a JSON body.
func (n *nodeProc) post(t *testing.T, method string, body []byte) (int, []byte) {
	t.Helper()
	resp, err := http.Post(n.base+"/proofd.ingest.v1.IngestService/"+method, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

type stageStatus struct {
	Stage      string `json:"stage"`
	ProofsMade string `json:"proofs_made"`
	CacheHits  string `json:"cache_hits"`
	Published  string `json:"published"`
}

type nodeStatus struct {
	Tip        struct{ Height, Hash string }
	Settlement string        `json:"settlement_height"`
	Behind     string        `json:"behind"`
	Stages     []stageStatus `json:"stages"`
	Engines    []struct {
		Address string `json:"address"`
	} `json:"engines"`
}

func (n *nodeProc) status(t *testing.T) nodeStatus {
	t.Helper()
	code, body := n.post(t, "GetStatus", []byte("{}"))
	var s nodeStatus
	if err := json.Unmarshal(body, &s); code != 200 || err != nil {
		t.Fatalf("GetStatus: %d %s %v", code, body, err)
	}
	return s
}

// count reads one stage's counter from a status.
func (s nodeStatus) count(stage string, field func(stageStatus) string) int {
	for _, st := range s.Stages {
		if st.Stage == stage {
			v, _ := strconv.Atoi(field(st))
			return v
		}
	}
	return -1
}

func made(st stageStatus) string { return st.ProofsMade }
func hits(st stageStatus) string { return st.CacheHits }

// metric reads one sample from /metrics.
func (n *nodeProc) metric(t *testing.T, series string) float64 {
	t.Helper()
	resp, err := http.Get(n.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	t.Fatalf("/metrics has no %s", series)
	return 0
}

// TestNodeProcessStopsAndResumes is the node as a newcomer runs it: the
// built binary on examples/node.yaml, one local engine and one remote engine
// behind mutual TLS, a simulated chain with a flip reorg submitted as JSON,
// SIGTERM while proofs run, a restart that resumes without redoing durable
// work, and a flip after everything is proven that costs no proof.
func TestNodeProcessStopsAndResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("sets up and proves the rollup's circuits in a node process (~2 min)")
	}
	bin := enginetest.Proofd(t)
	certDir := t.TempDir()
	set, err := devcert.Generate([]string{"localhost", "127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := set.Write(certDir); err != nil {
		t.Fatal(err)
	}
	certs := func(name string) string { return filepath.Join(certDir, name) }
	remote := remoteEngine(t, bin, certs)
	dir := t.TempDir()
	args := []string{"--data-dir", dir, "--http-addr", "127.0.0.1:0", "--engines", "1", "--remote-engines", remote,
		"--remote-tls-cert", certs(devcert.ClientFile), "--remote-tls-key", certs(devcert.ClientKeyFile), "--remote-tls-ca", certs(devcert.CAFile)}

	out, err := exec.Command(bin, "node", "simulate", "--config", filepath.Join("..", "..", "examples", "node.yaml"), "--blocks", "6").Output()
	if err != nil {
		t.Fatal(err)
	}
	// The chain: blocks 1–6 of fork A, then 5 and 6 of fork B, then the
	// head back to A's 5 and 6 (the flip).
	var reqs []node.SimRequest
	type block struct {
		height uint64
		hash   string
	}
	var canonical []block // fork A
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var r node.SimRequest
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, r)
		var b struct{ Block struct{ Height, Hash string } }
		json.Unmarshal(r.Body, &b)
		if h, _ := strconv.ParseUint(b.Block.Height, 10, 64); r.Method == "SubmitBlock" && int(h) == len(canonical)+1 {
			canonical = append(canonical, block{h, b.Block.Hash})
		}
	}
	if len(canonical) != 6 {
		t.Fatalf("fork A has %d blocks, want 6", len(canonical))
	}

	// Run 1: the whole chain at once, SIGTERM once proving is under way.
	n := startNode(t, bin, args...)
	for _, r := range reqs {
		if code, body := n.post(t, r.Method, r.Body); code != 200 {
			t.Fatalf("%s: %d %s", r.Method, code, body)
		}
	}
	waitFor(t, "a first tx proof", 3*time.Minute, func() bool { return n.status(t).count("tx", made) >= 1 })
	n.stop(t)

	// What run 1 left: durable receipts, and the checkpoint pruned through.
	durable := durableJobs(t, dir)
	lg, err := chainlog.Open(filepath.Join(dir, "chain"), chainlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	base, _, err := lg.Base()
	lg.Close()
	if err != nil {
		t.Fatal(err)
	}
	// Run 2 must prove the canonical chain's tx jobs above the base that
	// were not durable, and nothing else.
	want := 0
	for _, b := range canonical {
		if b.height > base.Height && !durable[fmt.Sprintf("tx 0 of block %s at %d", b.hash[:8], b.height)] {
			want++
		}
	}

	// Run 2: the same data; it finishes the chain.
	n = startNode(t, bin, args...)
	waitFor(t, "settlement at height 6", 5*time.Minute, func() bool {
		s := n.status(t)
		return s.Settlement == "6" && s.Behind == "0"
	})
	second := n.status(t)
	if len(second.Engines) > 0 && !strings.Contains(fmt.Sprint(second.Engines), remote) {
		t.Errorf("the pool does not hold the remote engine %s: %v", remote, second.Engines)
	}
	t.Logf("run 1 left %d durable receipts, pruned through %d; run 2 proved %d tx", len(durable), base.Height, second.count("tx", made))
	if got := second.count("tx", made); got != want {
		t.Errorf("run 2 made %d tx proofs, want %d: the canonical ones above the base that were not durable", got, want)
	}
	if got := n.metric(t, `proofd_pipeline_proofs_made_total{stage="tx"}`); int(got) != second.count("tx", made) {
		t.Errorf("/metrics says %v tx proofs, the status %d", got, second.count("tx", made))
	}
	if n.metric(t, `proofd_engine_pool_size`) != 2 {
		t.Errorf("pool size on /metrics: want 2 (one local, one remote)")
	}

	// A flip: to the other fork's tip (its proofs are made if they were
	// not), then back, which re-proves nothing: every proof is found.
	var tips []string
	for _, r := range reqs {
		var b struct{ Block struct{ Height, Hash string } }
		if json.Unmarshal(r.Body, &b); r.Method == "SubmitBlock" && b.Block.Height == "6" {
			tips = append(tips, b.Block.Hash)
		}
	}
	if len(tips) != 2 {
		t.Fatalf("the simulated chain has %d blocks at height 6, want 2 forks", len(tips))
	}
	settled := func(hash string) func() bool {
		return func() bool {
			code, body := n.post(t, "GetBlock", []byte(`{"hash":"`+hash+`"}`))
			return code == 200 && !strings.Contains(string(body), `"state":"`+"waiting") &&
				strings.Count(string(body), `"state":"published"`) == 3 && strings.Contains(string(body), `"canonical":true`)
		}
	}
	if code, body := n.post(t, "SetHead", []byte(`{"hash":"`+tips[1]+`"}`)); code != 200 {
		t.Fatalf("SetHead: %d %s", code, body)
	}
	waitFor(t, "the other fork to settle", 3*time.Minute, settled(tips[1]))
	before := n.status(t)
	if code, body := n.post(t, "SetHead", []byte(`{"hash":"`+tips[0]+`"}`)); code != 200 {
		t.Fatalf("SetHead: %d %s", code, body)
	}
	waitFor(t, "the flip back to settle", 3*time.Minute, settled(tips[0]))
	after := n.status(t)
	for _, st := range []string{"tx", "batch", "aggregate"} {
		if after.count(st, made) != before.count(st, made) {
			t.Errorf("the flip back made %d %s proofs", after.count(st, made)-before.count(st, made), st)
		}
	}
	if after.count("batch", hits) <= before.count("batch", hits) {
		t.Errorf("the flip back found no batch proof in the store")
	}
	n.stop(t)
}

package node

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/proofd/proofd/engine"
	"github.com/proofd/proofd/engine/enginetest"
	"github.com/proofd/proofd/engine/host"
	"github.com/proofd/proofd/engine/pool"
	"github.com/proofd/proofd/examples/rollup"
	"github.com/proofd/proofd/snark"
)

func TestMain(m *testing.M) { enginetest.Main(m) }

func inProcessPool(t *testing.T) *pool.Factory {
	t.Helper()
	f, err := pool.New(pool.Config{PoolSize: 1, Start: func(ctx context.Context) (*engine.Conn, error) {
		srv, err := host.NewServer(snark.Config(nil))
		if err != nil {
			return nil, err
		}
		return engine.InProcess(ctx, srv.ServeInProcess())
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close(context.Background()) })
	return f
}

type running struct {
	base string
	stop context.CancelFunc
	done chan error
}

// start runs a node on dir and waits until it is ready.
func start(t *testing.T, cfg Config, f *pool.Factory) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	r := &running{stop: cancel, done: make(chan error, 1)}
	go func() {
		r.done <- Run(ctx, cfg, Options{Pool: f, Registry: prometheus.NewRegistry(), Listening: func(a string) { addr <- a }})
	}()
	select {
	case a := <-addr:
		r.base = "http://" + a
	case err := <-r.done:
		t.Fatalf("node exited: %v", err)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		if code, _ := call(t, "GET", r.base+"/readyz", ""); code == http.StatusOK {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatal("node not ready after 5 minutes")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (r *running) shutdown(t *testing.T) {
	t.Helper()
	r.stop()
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatalf("node stopped with %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("node did not stop within a minute of its context's end")
	}
}

func call(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func status(t *testing.T, base string) Status {
	t.Helper()
	_, body := call(t, "GET", base+"/v1/status", "")
	var s Status
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatalf("status %q: %v", body, err)
	}
	return s
}

// submit posts the simulated chain's requests, waiting out 429s. paced
// waits after each block (or head) until its batch is published, as a chain
// that makes a block per proving time would: each fork is proven before the
// next reorg.
func submit(t *testing.T, base string, lines []string, paced bool) {
	t.Helper()
	blocks := 0
	for _, line := range lines {
		var req map[string]json.RawMessage
		json.Unmarshal([]byte(line), &req)
		path, body := "/v1/blocks", req["block"]
		if f, ok := req["finalize"]; ok {
			path, body = "/v1/finalize", f
		}
		if h, ok := req["head"]; ok {
			path, body = "/v1/head", h
		}
		for {
			code, resp := call(t, "POST", base+path, string(body))
			if code == http.StatusTooManyRequests {
				time.Sleep(200 * time.Millisecond)
				continue
			}
			if code != http.StatusOK {
				t.Fatalf("POST %s: %d %s", path, code, resp)
			}
			break
		}
		if path == "/v1/finalize" || !paced {
			continue
		}
		blocks++
		deadline := time.Now().Add(5 * time.Minute)
		for status(t, base).Published.Batch < blocks {
			if time.Now().After(deadline) {
				t.Fatalf("block %d not settled: %+v", blocks, status(t, base))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

func TestNodeProvesSubmittedChainAndRestarts(t *testing.T) {
	if testing.Short() {
		t.Skip("sets up and proves a BW6-761 batch circuit (~1 min)")
	}
	cfg := Defaults()
	cfg.DataDir, cfg.HTTPAddr, cfg.Engines, cfg.MaxBehind = t.TempDir(), "127.0.0.1:0", 1, 2
	cfg.Depth, cfg.TxsPerBlock, cfg.BundleSize, cfg.ShutdownFor = 4, 1, 2, 2*time.Second
	sim := rollup.SimConfig{Params: cfg.Params(), Seed: 4, Blocks: 4, Reorgs: 1, FinalityDepth: 2}
	var buf bytes.Buffer
	if err := WriteSimulated(&buf, sim); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for sc := bufio.NewScanner(&buf); sc.Scan(); {
		lines = append(lines, sc.Text())
	}
	f := inProcessPool(t)
	n := start(t, cfg, f)

	// Bad input: each refused with a 4xx naming what is wrong; the node serves on.
	var first map[string]json.RawMessage
	json.Unmarshal([]byte(lines[0]), &first)
	block := string(first["block"])
	for _, c := range []struct {
		body string
		code int
		says string
	}{
		{`{"height": 1,`, 400, "body"},
		{`{"height": "one"}`, 400, "height"},
		{`{"height": 1, "colour": "red"}`, 400, "colour"},
		{block[:len(block)-1] + `, "x": 1}`, 400, `unknown field`},
		{`{"height":1,"hash":"` + strings.Repeat("ab", 32) + `","parent":"` + strings.Repeat("cd", 32) + `","nonce":0,"txs":[]}`, 400, "txs"},
		{`{"pad":"` + strings.Repeat("x", int(cfg.MaxBody)) + `"}`, 413, "body"},
	} {
		code, resp := call(t, "POST", n.base+"/v1/blocks", c.body)
		if code != c.code || !strings.Contains(resp, c.says) {
			t.Errorf("POST %.60q: %d %s, want %d naming %q", c.body, code, resp, c.code, c.says)
		}
	}
	var orphan map[string]any
	json.Unmarshal([]byte(block), &orphan)
	orphan["parent"] = strings.Repeat("ee", 32)
	ob, _ := json.Marshal(orphan)
	if code, resp := call(t, "POST", n.base+"/v1/blocks", string(ob)); code != 400 || !strings.Contains(resp, "hash") {
		// The hash covers the parent: a changed parent is caught by the hash check first.
		t.Errorf("block with a changed parent: %d %s", code, resp)
	}

	submit(t, n.base, lines, true)
	if code, resp := call(t, "POST", n.base+"/v1/blocks", block); code != 200 || !strings.Contains(resp, `"duplicate":true`) {
		t.Errorf("the same block again: %d %s", code, resp)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for status(t, n.base).SettlementHeight != 4 {
		if time.Now().After(deadline) {
			t.Fatalf("no settlement at height 4: %+v", status(t, n.base))
		}
		time.Sleep(300 * time.Millisecond)
	}
	st := status(t, n.base)
	if st.Reorgs == 0 || st.CacheHits.Tx == 0 {
		t.Errorf("the flip found nothing in the store: %+v", st)
	}
	_, metrics := call(t, "GET", n.base+"/metrics", "")
	for _, want := range []string{
		fmt.Sprintf(`proofd_pipeline_proofs_made_total{stage="batch"} %d`, st.ProofsMade.Batch),
		fmt.Sprintf(`proofd_pipeline_cache_hits_total{stage="tx"} %d`, st.CacheHits.Tx),
		`proofd_ingest_requests_total{kind="block",outcome="duplicate"} 1`,
		`proofd_ingest_requests_total{kind="block",outcome="invalid"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	code, settle := call(t, "GET", n.base+"/v1/settlement", "")
	if code != 200 || !strings.Contains(settle, `"height":"4"`) {
		t.Errorf("settlement: %d %s", code, settle)
	}
	n.shutdown(t)

	// Restart on the same data: everything is found, nothing proven again.
	n = start(t, cfg, f)
	for status(t, n.base).SettlementHeight != 4 {
		if time.Now().After(deadline) {
			t.Fatalf("restarted node: no settlement at 4: %+v", status(t, n.base))
		}
		time.Sleep(300 * time.Millisecond)
	}
	if st := status(t, n.base); st.ProofsMade != (stageCounts{}) {
		t.Errorf("the restarted node proved again: %+v", st)
	}
	n.shutdown(t)
}

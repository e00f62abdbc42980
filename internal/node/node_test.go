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

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/proofd/proofd/engine"
	"github.com/proofd/proofd/engine/enginetest"
	"github.com/proofd/proofd/engine/host"
	"github.com/proofd/proofd/engine/pool"
	"github.com/proofd/proofd/examples/rollup"
	ingestv1 "github.com/proofd/proofd/proto/ingestv1"
	"github.com/proofd/proofd/proto/ingestv1/ingestv1connect"
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
	done chan struct{} // closed when Run returned err
	err  error
}

// start runs a node on dir and waits until it is ready.
func start(t *testing.T, cfg Config, f *pool.Factory) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	r := &running{stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.err = Run(ctx, cfg, Options{Pool: f, Registry: prometheus.NewRegistry(), Listening: func(a string) { addr <- a }})
	}()
	t.Cleanup(func() { // a test that failed early still stops its node
		cancel()
		<-r.done
	})
	select {
	case a := <-addr:
		r.base = "http://" + a
	case <-r.done:
		t.Fatalf("node exited: %v", r.err)
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
	h2c.CloseIdleConnections()
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	r.stop()
	select {
	case <-r.done:
		if r.err != nil {
			t.Fatalf("node stopped with %v", r.err)
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
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// rpc posts body as JSON to an ingest API method.
func rpc(t *testing.T, base, method, body string) (int, string) {
	t.Helper()
	return call(t, "POST", base+"/proofd.ingest.v1.IngestService/"+method, body)
}

// h2c is HTTP/2 without TLS, what a gRPC client speaks to the node.
var h2c = func() *http.Transport {
	protocols := new(http.Protocols)
	protocols.SetUnencryptedHTTP2(true)
	return &http.Transport{Protocols: protocols}
}()

// client speaks gRPC to the node.
func client(base string) ingestv1connect.IngestServiceClient {
	return ingestv1connect.NewIngestServiceClient(&http.Client{Transport: h2c}, base, connect.WithGRPC())
}

func status(t *testing.T, base string) *ingestv1.GetStatusResponse {
	t.Helper()
	resp, err := client(base).GetStatus(context.Background(), connect.NewRequest(&ingestv1.GetStatusRequest{}))
	if err != nil {
		t.Fatalf("GetStatus: %v", err)
	}
	return resp.Msg
}

// stage is one stage's line of a status.
func stage(st *ingestv1.GetStatusResponse, name string) *ingestv1.StageStatus {
	for _, s := range st.Stages {
		if s.Stage == name {
			return s
		}
	}
	return &ingestv1.StageStatus{}
}

// simulated is a simulated chain's ingest calls.
func simulated(t *testing.T, sim rollup.SimConfig) []SimRequest {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteSimulated(&buf, sim); err != nil {
		t.Fatal(err)
	}
	var reqs []SimRequest
	for sc := bufio.NewScanner(&buf); sc.Scan(); {
		var r SimRequest
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, r)
	}
	return reqs
}

// submit sends the simulated chain's calls as JSON, waiting out 429s. paced
// waits after each block (or head) until its batch is published, as a chain
// that makes a block per proving time would: each fork is proven before the
// next reorg.
func submit(t *testing.T, base string, reqs []SimRequest, paced bool) {
	t.Helper()
	blocks := uint64(0)
	for _, r := range reqs {
		for {
			code, resp := rpc(t, base, r.Method, string(r.Body))
			if code == http.StatusTooManyRequests {
				time.Sleep(200 * time.Millisecond)
				continue
			}
			if code != http.StatusOK {
				t.Fatalf("%s: %d %s", r.Method, code, resp)
			}
			break
		}
		if r.Method == "Finalize" || !paced {
			continue
		}
		blocks++
		deadline := time.Now().Add(5 * time.Minute)
		for stage(status(t, base), "batch").Published < blocks {
			if time.Now().After(deadline) {
				t.Fatalf("block %d not settled: %v", blocks, status(t, base))
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
	cfg.KeysDir = enginetest.SharedDir(t, "node-keys") // the same circuits: set up once for the package
	cfg.Depth, cfg.TxsPerBlock, cfg.BundleSize, cfg.ShutdownFor = 4, 1, 2, 2*time.Second
	reqs := simulated(t, rollup.SimConfig{Params: cfg.Params(), Seed: 4, Blocks: 4, Reorgs: 1, FinalityDepth: 2})
	f := inProcessPool(t)
	n := start(t, cfg, f)

	// Bad input: each refused with a 4xx naming what is wrong; the node serves on.
	block := string(reqs[0].Body)
	var first ingestv1.SubmitBlockRequest
	if err := protojson.Unmarshal(reqs[0].Body, &first); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		body string
		code int
		says string
	}{
		{`{"block": {"height": 1,`, 400, "unmarshal"},
		{`{"block": {"height": "one"}}`, 400, "height"},
		{`{"block": {"height": 1, "colour": "red"}}`, 400, "colour"},
		{block[:len(block)-1] + `, "x": 1}`, 400, `unknown field`},
		{`{"block": {"height":1,"hash":"` + strings.Repeat("ab", 32) + `","parent":"` + strings.Repeat("cd", 32) + `","nonce":0,"txs":[]}}`, 400, "block.txs"},
		{`{}`, 400, "block: missing"},
		{`{"block": {"pad":"` + strings.Repeat("x", int(cfg.MaxBody)) + `"}}`, 413, "body"},
	} {
		code, resp := rpc(t, n.base, "SubmitBlock", c.body)
		if code != c.code || !strings.Contains(resp, c.says) {
			t.Errorf("SubmitBlock %.60q: %d %s, want %d naming %q", c.body, code, resp, c.code, c.says)
		}
	}
	orphan := proto.Clone(&first).(*ingestv1.SubmitBlockRequest)
	orphan.Block.Parent = strings.Repeat("ee", 32)
	// The hash covers the parent: a changed parent is caught by the hash check first.
	if _, err := client(n.base).SubmitBlock(context.Background(), connect.NewRequest(orphan)); connect.CodeOf(err) != connect.CodeInvalidArgument ||
		!strings.Contains(err.Error(), "block.hash") {
		t.Errorf("gRPC: a block with a changed parent: %v", err)
	}

	submit(t, n.base, reqs, true)
	var last ingestv1.SubmitBlockRequest
	for _, r := range reqs {
		if r.Method == "SubmitBlock" {
			protojson.Unmarshal(r.Body, &last)
		}
	}
	dup, err := client(n.base).SubmitBlock(context.Background(), connect.NewRequest(&last))
	if err != nil || !dup.Msg.Duplicate {
		t.Errorf("the same block again over gRPC: %v %v", dup, err)
	}
	// Block 1 is below the finalized height now: refused by name.
	if _, err := client(n.base).SubmitBlock(context.Background(), connect.NewRequest(&first)); connect.CodeOf(err) != connect.CodeInvalidArgument ||
		!strings.Contains(err.Error(), "finalized height") {
		t.Errorf("a block below finality: %v", err)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for status(t, n.base).SettlementHeight != 4 {
		if time.Now().After(deadline) {
			t.Fatalf("no settlement at height 4: %v", status(t, n.base))
		}
		time.Sleep(300 * time.Millisecond)
	}
	st := status(t, n.base)
	if st.Reorgs == 0 || stage(st, "tx").CacheHits == 0 {
		t.Errorf("the flip found nothing in the store: %v", st)
	}
	_, metrics := call(t, "GET", n.base+"/metrics", "")
	for _, want := range []string{
		fmt.Sprintf(`proofd_pipeline_proofs_made_total{stage="batch"} %d`, stage(st, "batch").ProofsMade),
		fmt.Sprintf(`proofd_pipeline_cache_hits_total{stage="tx"} %d`, stage(st, "tx").CacheHits),
		`proofd_ingest_requests_total{kind="block",outcome="duplicate"} 1`,
		`proofd_ingest_requests_total{kind="block",outcome="below_finality"} 1`,
		`proofd_ingest_throttled_total`,
		`proofd_store_receipts{kind="aggregate"}`,
		`proofd_pipeline_ingest_to_aggregate_seconds_count`,
		`proofd_pipeline_job_seconds_count{stage="batch"}`,
		`proofd_pipeline_jobs{stage="tx",state="waiting"} 0`,
		`proofd_ingest_requests_total{kind="block",outcome="invalid"} 7`,
		`proofd_ingest_requests_total{kind="block",outcome="too_large"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	checkLookups(t, n.base, st)
	n.shutdown(t)

	// Restart on the same data: everything is found, nothing proven again.
	n = start(t, cfg, f)
	for status(t, n.base).SettlementHeight != 4 {
		if time.Now().After(deadline) {
			t.Fatalf("restarted node: no settlement at 4: %v", status(t, n.base))
		}
		time.Sleep(300 * time.Millisecond)
	}
	for _, s := range status(t, n.base).Stages {
		if s.ProofsMade != 0 {
			t.Errorf("the restarted node proved again: %v", s)
		}
	}
	n.shutdown(t)
}

// checkLookups reads the settled chain back: the settlement, every block's
// jobs and its receipts, by hash and by height.
func checkLookups(t *testing.T, base string, st *ingestv1.GetStatusResponse) {
	t.Helper()
	c := client(base)
	ctx := context.Background()
	settle, err := c.GetSettlement(ctx, connect.NewRequest(&ingestv1.GetSettlementRequest{}))
	if err != nil || settle.Msg.Height != 4 || len(settle.Msg.Proof) == 0 || settle.Msg.Block != st.Tip.Hash {
		t.Fatalf("settlement: %v %v (tip %v)", settle, err, st.Tip)
	}
	code, body := rpc(t, base, "GetSettlement", `{}`)
	if code != 200 || !strings.Contains(body, `"height":"4"`) {
		t.Errorf("settlement as JSON: %d %.200s", code, body)
	}
	if st.Finalized == 0 || st.Finalized >= 4 {
		t.Fatalf("finalized at %d: want some blocks pruned, the tip's not", st.Finalized)
	}
	for h := uint64(1); h <= 4; h++ {
		b, err := c.GetBlock(ctx, connect.NewRequest(&ingestv1.GetBlockRequest{Height: h}))
		if connect.CodeOf(err) == connect.CodeNotFound && h <= st.Finalized {
			continue // pruned: final and settled
		}
		if err != nil {
			t.Fatalf("block at %d: %v", h, err)
		}
		if !b.Msg.Canonical || b.Msg.Height != h || len(b.Msg.Jobs) < 2 {
			t.Errorf("block at %d: %v", h, b.Msg)
		}
		for _, j := range b.Msg.Jobs {
			if j.State != "published" {
				t.Errorf("block at %d: job %v not published", h, j)
			}
		}
		r, err := c.GetReceipts(ctx, connect.NewRequest(&ingestv1.GetReceiptsRequest{Hash: b.Msg.Hash}))
		if err != nil {
			t.Fatalf("receipts of block %d: %v", h, err)
		}
		kinds := map[string]int{}
		for _, rc := range r.Msg.Receipts {
			if len(rc.Proof) == 0 {
				t.Errorf("block %d: empty %s receipt", h, rc.Stage)
			}
			kinds[rc.Stage]++
		}
		if kinds["tx"] < 1 || kinds["batch"] < 1 || (h%2 == 0) != (kinds["aggregate"] > 0) {
			t.Errorf("block %d's receipts: %v", h, kinds)
		}
	}
	if _, err := c.GetBlock(ctx, connect.NewRequest(&ingestv1.GetBlockRequest{Hash: strings.Repeat("0f", 32)})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("an unknown block: %v, want NotFound", err)
	}
	if code, body := rpc(t, base, "GetBlock", `{"hash": "zz"}`); code != 400 || !strings.Contains(body, "hash") {
		t.Errorf("a malformed hash: %d %s", code, body)
	}
}

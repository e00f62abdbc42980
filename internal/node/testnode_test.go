package node

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/proofd/proofd/engine/enginetest"
	"github.com/proofd/proofd/examples/rollup"
)

// testConfig is the small parameters every test of this package proves with.
func testConfig(tb testing.TB) Config {
	tb.Helper()
	cfg := Defaults()
	cfg.DataDir, cfg.HTTPAddr, cfg.Engines = tb.TempDir(), "127.0.0.1:0", 1
	cfg.Depth, cfg.TxsPerBlock, cfg.BundleSize, cfg.ShutdownFor = 4, 1, 2, 2*time.Second
	cfg.KeysDir = enginetest.SharedDir(tb, "node-keys") // the same circuits: set up once for the package
	return cfg
}

// ingestOnly is a node without a prover on a fresh data dir (IngestOnly),
// closed at the end of the test.
func ingestOnly(tb testing.TB, cfg Config, consume bool) *IngestOnly {
	tb.Helper()
	n, err := StartIngestOnly(cfg, nil, consume)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := n.Close(); err != nil {
			tb.Error(err)
		}
	})
	return n
}

// serve posts body to an ingest API method of h as JSON, in process.
func serve(h http.Handler, method string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", "/proofd.ingest.v1.IngestService/"+method, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// simulatedTB is simulated for a benchmark or a fuzz target.
func simulatedTB(tb testing.TB, sim rollup.SimConfig) []SimRequest {
	tb.Helper()
	var buf bytes.Buffer
	if err := WriteSimulated(&buf, sim); err != nil {
		tb.Fatal(err)
	}
	var reqs []SimRequest
	for dec := json.NewDecoder(&buf); dec.More(); {
		var r SimRequest
		if err := dec.Decode(&r); err != nil {
			tb.Fatal(err)
		}
		reqs = append(reqs, r)
	}
	return reqs
}

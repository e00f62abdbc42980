package node

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/proofd/proofd/examples/rollup"
)

// methods are the ingest API methods the fuzz target posts every body to.
var methods = []string{"SubmitBlock", "SetHead", "Finalize", "GetBlock", "GetReceipts"}

// apiCase is one request of TestIngestAPIInputs, in order on one node; its
// body also seeds FuzzIngestAPI.
type apiCase struct {
	name, method string
	body         []byte
	code         int
	says         string // in the answer
}

// apiCases are well-formed and malformed requests against a node with
// testConfig's parameters: a valid chain's first blocks, a duplicate, an
// unknown parent, wrong types, numbers past uint64, deep nesting, a body
// over max-body-bytes, invalid UTF-8.
func apiCases(tb testing.TB, cfg Config) []apiCase {
	reqs := simulatedTB(tb, rollup.SimConfig{Params: cfg.Params(), Seed: 7, Blocks: 3, Reorgs: -1, FinalityDepth: 100})
	var blocks [][]byte
	var hashes []string
	for _, r := range reqs {
		if r.Method == "SubmitBlock" {
			blocks = append(blocks, r.Body)
			var m struct {
				Block struct{ Hash string }
			}
			if err := json.Unmarshal(r.Body, &m); err != nil {
				tb.Fatal(err)
			}
			hashes = append(hashes, m.Block.Hash)
		}
	}
	if len(blocks) < 3 {
		tb.Fatalf("the simulated chain has %d blocks", len(blocks))
	}
	unknown := strings.Repeat("0f", 32)
	nested := func(open, close string, n int) []byte {
		return []byte(`{"block": {"txs": [{"sender": {"path": ` + strings.Repeat(open, n) + strings.Repeat(close, n) + `}}]}}`)
	}
	b := func(s string) []byte { return []byte(s) }
	return []apiCase{
		{"block 1", "SubmitBlock", blocks[0], 200, `"duplicate":false`},
		{"block 1 again", "SubmitBlock", blocks[0], 200, `"duplicate":true`},
		{"unknown parent", "SubmitBlock", blocks[2], 400, "block.parent: unknown block"},
		{"block 2", "SubmitBlock", blocks[1], 200, `"duplicate":false`},
		{"head back to block 1", "SetHead", b(`{"hash": "` + hashes[0] + `"}`), 200, hashes[0]},
		{"head to an unknown block", "SetHead", b(`{"hash": "` + unknown + `"}`), 400, "unknown block"},
		{"finalize", "Finalize", b(`{"height": 1}`), 200, `"height":"1"`},
		{"block by hash", "GetBlock", b(`{"hash": "` + hashes[1] + `"}`), 200, `"height":"2"`},
		{"block by height", "GetBlock", b(`{"height": 1}`), 200, hashes[0]},
		{"receipts", "GetReceipts", b(`{"hash": "` + hashes[0] + `"}`), 200, `"receipts":[]`},
		{"unknown block", "GetBlock", b(`{"hash": "` + unknown + `"}`), 404, "no such block"},
		{"no block", "SubmitBlock", b(`{}`), 400, "block: missing"},
		{"empty body", "SubmitBlock", b(``), 400, "unexpected token"},
		{"null", "SubmitBlock", b(`null`), 400, ""},
		{"height as a word", "SubmitBlock", b(`{"block": {"height": "one"}}`), 400, "height"},
		{"block as a list", "SubmitBlock", b(`{"block": []}`), 400, "unexpected token ["},
		{"hash as a number", "SetHead", b(`{"hash": 5}`), 400, "hash"},
		{"hash as a list", "GetBlock", b(`{"hash": ["ab"]}`), 400, "hash"},
		{"short hash", "GetReceipts", b(`{"hash": "zz"}`), 400, "hash"},
		{"neither hash nor height", "GetBlock", b(`{}`), 400, "one is required"},
		{"height past uint64", "Finalize", b(`{"height": 18446744073709551616}`), 400, "height"},
		{"height 1e400", "Finalize", b(`{"height": 1e400}`), 400, "height"},
		{"height -1", "GetBlock", b(`{"height": -1}`), 400, "height"},
		{"largest height", "GetBlock", b(`{"height": "18446744073709551615"}`), 404, "no such block"},
		{"nonce past uint64", "SubmitBlock", b(`{"block": {"height": 1, "nonce": 99999999999999999999999}}`), 400, "nonce"},
		{"nested lists", "SubmitBlock", nested("[", "]", 5000), 400, "path"},
		{"nested objects", "SubmitBlock", nested(`{"a":`, "}", 5000), 400, "unexpected token {"},
		{"lists all the way", "Finalize", b(strings.Repeat("[", 100000) + strings.Repeat("]", 100000)), 400, ""},
		{"2 MB body", "SubmitBlock", b(`{"block": {"pad": "` + strings.Repeat("x", 2<<20) + `"}}`), 413, "max-body-bytes"},
		{"invalid UTF-8", "SetHead", b("{\"hash\": \"\xff\xfe" + unknown[4:] + "\"}"), 400, "UTF-8"},
		{"invalid UTF-8 key", "GetBlock", b("{\"\xff\": 1}"), 400, ""},
		{"unknown field", "Finalize", b(`{"height": 1, "colour": "red"}`), 400, "colour"},
		{"truncated", "SubmitBlock", blocks[2][:len(blocks[2])/2], 400, ""},
	}
}

// checkAnswer holds for every answer of the API: 200 with a JSON body, or
// a 4xx whose JSON error has a code and a message. Nothing here may be a
// 5xx: the node is up and its disk works, so only the input can be wrong.
func checkAnswer(code int, body []byte) error {
	var e struct{ Code, Message string }
	err := json.Unmarshal(body, &e)
	switch {
	case code == http.StatusOK && err == nil:
		return nil
	case code == http.StatusOK:
		return fmt.Errorf("200 with a body that is not JSON: %v: %.200q", err, body)
	case code < 400 || code >= 500:
		return fmt.Errorf("status %d: %.200q", code, body)
	case err != nil || e.Code == "" || e.Message == "":
		return fmt.Errorf("%d without a JSON error with code and message: %.200q", code, body)
	}
	return nil
}

// caughtUp waits until the node's core holds every event logged.
func caughtUp(tb testing.TB, n *IngestOnly) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for n.inbox.behind() != 0 {
		if time.Now().After(deadline) {
			tb.Fatalf("the inbox is still %d events ahead", n.inbox.behind())
		}
		time.Sleep(time.Millisecond)
	}
}

// TestIngestAPIInputs posts apiCases in order to one node: each gets the
// answer it should, and every answer has checkAnswer's shape.
func TestIngestAPIInputs(t *testing.T) {
	cfg := testConfig(t)
	n := ingestOnly(t, cfg, true)
	h := n.Handler()
	for _, c := range apiCases(t, cfg) {
		if c.method == "GetBlock" || c.method == "GetReceipts" {
			caughtUp(t, n)
		}
		rec := serve(h, c.method, c.body)
		body := rec.Body.Bytes()
		if err := checkAnswer(rec.Code, body); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		if rec.Code != c.code || !bytes.Contains(body, []byte(c.says)) {
			t.Errorf("%s: %s %.60q: %d %.300s; want %d naming %q", c.name, c.method, c.body, rec.Code, body, c.code, c.says)
		}
	}
	// Three blocks taken: 1, 2 and 1 again (the head moved back).
	if rec := serve(h, "GetStatus", []byte(`{}`)); rec.Code != 200 || !bytes.Contains(rec.Body.Bytes(), []byte(`"blocks_accepted":"3"`)) {
		t.Errorf("status: %d %.300s", rec.Code, rec.Body)
	}
}

// FuzzIngestAPI posts arbitrary bytes as the JSON body of every method
// that takes input: no panic, every answer has checkAnswer's shape (never a
// 5xx), and the node still answers GetStatus.
func FuzzIngestAPI(f *testing.F) {
	cfg := testConfig(f)
	for _, c := range apiCases(f, cfg) {
		f.Add(c.body)
	}
	n := ingestOnly(f, cfg, true)
	h := n.Handler()
	f.Fuzz(func(t *testing.T, body []byte) {
		// A hang is a finding too: crash with the stacks, so the fuzzer
		// keeps the input.
		watchdog := time.AfterFunc(10*time.Second, func() {
			buf := make([]byte, 1<<20)
			panic(fmt.Sprintf("no answer in 10 s to %.200q\n%s", body, buf[:runtime.Stack(buf, true)]))
		})
		defer watchdog.Stop()
		for _, m := range methods {
			rec := serve(h, m, body)
			if err := checkAnswer(rec.Code, rec.Body.Bytes()); err != nil {
				t.Fatalf("%s %.100q: %v", m, body, err)
			}
		}
		if rec := serve(h, "GetStatus", []byte(`{}`)); rec.Code != 200 {
			t.Fatalf("GetStatus after %.100q: %d %.200s", body, rec.Code, rec.Body)
		}
	})
}

package statuspage_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"go.uber.org/goleak"

	"github.com/proofd/proofd/internal/browsertest"
	"github.com/proofd/proofd/internal/node/statuspage"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestHandlerServesAssets(t *testing.T) {
	srv := httptest.NewServer(statuspage.Handler())
	defer srv.Close()
	for _, c := range []struct {
		path, ctype, has string
		code             int
	}{
		{"/", "text/html", `id="tip-height"`, 200},
		{"/app.js", "javascript", statuspage.StatusPath, 200},
		{"/style.css", "text/css", "#chart", 200},
		{"/nope", "", "", 404},
	} {
		resp, err := http.Get(srv.URL + c.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code || !strings.Contains(resp.Header.Get("Content-Type"), c.ctype) || !strings.Contains(string(body), c.has) {
			t.Errorf("GET %s: %d %q, want %d %q containing %q", c.path, resp.StatusCode, resp.Header.Get("Content-Type"), c.code, c.ctype, c.has)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("GET %s: Content-Security-Policy %q", c.path, csp)
		}
	}
}

// canned is a GetStatusResponse as protojson writes it with proto names and
// unpopulated fields: 64-bit integers are strings.
const canned = `{
 "ready": true, "draining": false,
 "tip": {"height": "1234", "hash": "ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef5678ff"},
 "finalized": "1200", "settlement_height": "1198", "blocks_accepted": "1240", "behind": "3",
 "reorgs": "2", "refused": "1",
 "stages": [
  {"stage": "tx", "waiting": "0", "queued": "4", "in_flight": "1", "proofs_made": "30", "cache_hits": "10", "published": "40", "retries": "0", "failed": "0"},
  {"stage": "batch", "waiting": "2", "queued": "0", "in_flight": "1", "proofs_made": "9", "cache_hits": "1", "published": "10", "retries": "1", "failed": "0"},
  {"stage": "aggregate", "waiting": "1", "queued": "0", "in_flight": "0", "proofs_made": "1", "cache_hits": "0", "published": "1", "retries": "0", "failed": "0"}
 ],
 "engines": [
  {"slot": 0, "state": "busy", "address": "/run/proofd/engine-0.sock", "circuits": ["tx", "batch"], "calls": "51"},
  {"slot": 1, "state": "idle", "address": "/run/proofd/engine-1.sock", "circuits": [], "calls": "7"}
 ],
 "recent": [
  {"stage": "batch", "height": "1234", "block": "ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef5678ff", "index": 0, "cached": false, "seconds": 12.5, "finished_unix_ms": "1764530000000"},
  {"stage": "tx", "height": "1234", "block": "ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef5678ff", "index": 3, "cached": true, "seconds": 0, "finished_unix_ms": "1764529990000"}
 ],
 "cache_hit_rate": 0.2156,
 "proofs_per_minute": [
  {"minute_unix": "1764529800", "proofs": "4"}, {"minute_unix": "1764529860", "proofs": "0"},
  {"minute_unix": "1764529920", "proofs": "9"}, {"minute_unix": "1764529980", "proofs": "6"},
  {"minute_unix": "1764530040", "proofs": "2"}
 ],
 "started_unix_ms": "1764520000000"
}`

// camel is a later answer in protojson's default JSON names, with empty
// fields left out: the page reads both spellings.
const camel = `{"ready": true, "tip": {"height": "1235", "hash": "00ff"}, "reorgs": "3",
 "stages": [{"stage": "tx", "proofsMade": "31", "cacheHits": "10", "inFlight": "2"}],
 "proofsPerMinute": [{"minuteUnix": "1764530100", "proofs": "1"}], "cacheHitRate": 0.25}`

// TestPageRendersStatus drives the page in Chromium against a canned
// GetStatus: the numbers, tables and chart appear; a failing poll shows
// "disconnected"; the next good answer restores the page.
func TestPageRendersStatus(t *testing.T) {
	var mode atomic.Int32 // 0 canned, 1 failing, 2 camel
	var mu sync.Mutex
	var sawType, sawBody string
	mux := http.NewServeMux()
	statuspage.Register(mux)
	// As the node mounts the ingest API: every method under one prefix.
	mux.HandleFunc("/proofd.ingest.v1.IngestService/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != statuspage.StatusPath {
			http.Error(w, "the page called "+r.Method+" "+r.URL.Path, http.StatusBadRequest)
			return
		}
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		sawType, sawBody = r.Header.Get("Content-Type"), string(body)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch mode.Load() {
		case 1:
			http.Error(w, `{"code":"unavailable"}`, http.StatusServiceUnavailable)
		case 2:
			io.WriteString(w, camel)
		default:
			io.WriteString(w, canned)
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	ctx := browsertest.New(t)
	waitFor := func(what, js string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(20*time.Second), chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatal(err)
	}
	waitFor("the first status", `document.getElementById("tip-height").textContent === "1,234"`)

	type view struct {
		State, TipHash, Finalized, Settled, Behind, Proofs, Hits, Rate, Reorgs, Refused string
		Bars, Rects                                                                     int
		BarProofs                                                                       []string
		Stages, Engines, Recent                                                         [][]string
		ConnHidden                                                                      bool
	}
	read := func() view {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[view](`(() => {
			const txt = (id) => document.getElementById(id).textContent;
			const rows = (id) => [...document.querySelectorAll("#" + id + " tbody tr")].map((tr) => [...tr.children].map((td) => td.textContent));
			const rects = [...document.querySelectorAll("#chart rect.bar")];
			return {State: txt("state"), TipHash: txt("tip-hash"), Finalized: txt("finalized"), Settled: txt("settlement-height"),
				Behind: txt("behind"), Proofs: txt("proofs-total"), Hits: txt("cache-hits-total"), Rate: txt("cache-hit-rate"),
				Reorgs: txt("reorgs"), Refused: txt("refused"),
				Bars: Number(document.getElementById("chart").getAttribute("data-bars")), Rects: rects.length,
				BarProofs: rects.map((r) => r.getAttribute("data-proofs")),
				Stages: rows("stages"), Engines: rows("engines"), Recent: rows("recent"),
				ConnHidden: document.getElementById("conn").hidden};
		})()`))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	v := read()
	for _, c := range []struct{ name, got, want string }{
		{"state", v.State, "ready"}, {"tip hash", v.TipHash, "ab12cd34ef…78ff"},
		{"finalized", v.Finalized, "1,200"}, {"settled", v.Settled, "1,198"}, {"behind", v.Behind, "3"},
		{"proofs", v.Proofs, "40"}, {"cache hits", v.Hits, "11"}, {"hit rate", v.Rate, "21.6%"},
		{"reorgs", v.Reorgs, "2"}, {"refused", v.Refused, "1"},
	} {
		if c.got != c.want {
			t.Errorf("%s: %q, want %q", c.name, c.got, c.want)
		}
	}
	if v.Bars != 5 || v.Rects != 5 || strings.Join(v.BarProofs, ",") != "4,0,9,6,2" {
		t.Errorf("chart: %d bars (%d rects) %v, want 5 bars of 4,0,9,6,2", v.Bars, v.Rects, v.BarProofs)
	}
	if len(v.Stages) != 3 || strings.Join(v.Stages[1], "|") != "batch|2|0|1|9|1|10|1|0" {
		t.Errorf("stages: %q", v.Stages)
	}
	if len(v.Engines) != 2 || strings.Join(v.Engines[0][:4], "|") != "0|busy|txbatch|51" || v.Engines[1][1] != "idle" || v.Engines[1][2] != "none" {
		t.Errorf("engines: %q", v.Engines)
	}
	if len(v.Recent) != 2 || v.Recent[0][1] != "batch" || v.Recent[0][5] != "12.50 s" || v.Recent[1][5] != "cached" || v.Recent[1][4] != "3" {
		t.Errorf("recent: %q", v.Recent)
	}
	if !v.ConnHidden {
		t.Error("the disconnected banner shows while polls succeed")
	}
	mu.Lock()
	if sawType != "application/json" || sawBody != "{}" {
		t.Errorf("poll sent Content-Type %q body %q, want application/json and {}", sawType, sawBody)
	}
	mu.Unlock()
	browsertest.Screenshot(t, ctx, "status-page-canned.png")

	mode.Store(1)
	waitFor("disconnected", `document.getElementById("state").textContent === "disconnected" && !document.getElementById("conn").hidden && document.body.classList.contains("disconnected")`)
	if v := read(); v.Proofs != "40" {
		t.Errorf("disconnected page dropped the last numbers: proofs %q", v.Proofs)
	}

	mode.Store(2)
	waitFor("reconnected", `document.getElementById("state").textContent === "ready" && document.getElementById("tip-height").textContent === "1,235"`)
	v = read()
	if !v.ConnHidden || v.Reorgs != "3" || v.Proofs != "31" || v.Rate != "25.0%" || v.Bars != 1 || v.Finalized != "0" || len(v.Engines) != 1 || len(v.Recent) != 1 {
		t.Errorf("after reconnecting with camelCase names: %+v", v)
	}
}

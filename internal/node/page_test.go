package node

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/proofd/proofd/engine/enginetest"
	"github.com/proofd/proofd/examples/rollup"
	"github.com/proofd/proofd/internal/browsertest"
	ingestv1 "github.com/proofd/proofd/proto/ingestv1"
)

// TestStatusPageFollowsTheNode drives the status page in headless Chromium
// against a node proving a simulated chain: the tip and the proof count
// climb as blocks are proven, the reorg count shows the fork, the page
// agrees with GetStatus, and a full-page screenshot is kept
// (status-page.png: $PROOFD_ARTIFACTS, else the test's artifact directory).
func TestStatusPageFollowsTheNode(t *testing.T) {
	if testing.Short() {
		t.Skip("sets up and proves a BW6-761 batch circuit (~1 min)")
	}
	began := time.Now()
	cfg := Defaults()
	cfg.DataDir, cfg.HTTPAddr, cfg.Engines, cfg.MaxBehind = t.TempDir(), "127.0.0.1:0", 1, 2
	cfg.KeysDir = enginetest.SharedDir(t, "node-keys") // the same circuits: set up once for the package
	cfg.Depth, cfg.TxsPerBlock, cfg.BundleSize, cfg.ShutdownFor = 4, 1, 2, 2*time.Second
	reqs := simulated(t, rollup.SimConfig{Params: cfg.Params(), Seed: 4, Blocks: 4, Reorgs: 1, FinalityDepth: 2})
	// The straight chain first: the calls before the first block that does
	// not extend the previous one (a competing fork) or the first SetHead.
	fork, tip := len(reqs), uint64(0)
	var prev string
	for i, r := range reqs {
		if r.Method == "SetHead" {
			fork = i
			break
		}
		if r.Method != "SubmitBlock" {
			continue
		}
		var b ingestv1.SubmitBlockRequest
		if err := protojson.Unmarshal(r.Body, &b); err != nil {
			t.Fatal(err)
		}
		if prev != "" && b.Block.Parent != prev {
			fork = i
			break
		}
		prev, tip = b.Block.Hash, b.Block.Height
	}
	if fork == len(reqs) || tip == 0 {
		t.Fatalf("the simulated chain has no reorg after a first block: %v", reqs)
	}

	n := start(t, cfg, inProcessPool(t))
	ctx := browsertest.New(t)
	waitFor := func(what, js string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(5*time.Minute), chromedp.WithPollingInterval(100*time.Millisecond))); err != nil {
			t.Fatalf("waiting for the page to show %s: %v", what, err)
		}
	}
	// number reads a number the page shows; "–" (nothing yet) reads 0.
	number := func(id string) uint64 {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS("#"+id)))
		if err != nil {
			t.Fatal(err)
		}
		v, err := strconv.ParseUint(strings.ReplaceAll(strings.TrimSpace(s), ",", ""), 10, 64)
		if err != nil {
			return 0
		}
		return v
	}
	// js is the number the page shows at id, in JavaScript.
	js := func(id string) string {
		return fmt.Sprintf(`Number(document.getElementById(%q).textContent.replaceAll(",", ""))`, id)
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(n.base+"/")); err != nil {
		t.Fatal(err)
	}
	waitFor("ready", `document.getElementById("state").textContent === "ready"`)
	tip0, proofs0 := number("tip-height"), number("proofs-total")
	if r := number("reorgs"); r != 0 {
		t.Errorf("a fresh node's page shows %d reorgs", r)
	}

	submit(t, n.base, reqs[:fork], true)
	waitFor("tip "+strconv.FormatUint(tip, 10)+" and more proofs", js("tip-height")+` === `+strconv.FormatUint(tip, 10)+
		` && `+js("proofs-total")+` > `+strconv.FormatUint(proofs0, 10))
	if got := number("tip-height"); got <= tip0 {
		t.Errorf("tip height %d after submitting, %d before", got, tip0)
	}
	if r := number("reorgs"); r != 0 {
		t.Errorf("the page shows %d reorgs before any fork", r)
	}

	submit(t, n.base, reqs[fork:], true)
	waitFor("the reorg", js("reorgs")+` > 0`)
	waitFor("settlement at 4", js("settlement-height")+` === 4`)
	st := status(t, n.base)
	var made uint64
	for _, s := range st.Stages {
		made += s.ProofsMade
	}
	// The page polls every second: wait for it to catch up with this answer.
	waitFor("what GetStatus says", js("reorgs")+` === `+strconv.FormatUint(st.Reorgs, 10)+` && `+js("proofs-total")+` === `+strconv.FormatUint(made, 10)+
		` && `+js("tip-height")+` === `+strconv.FormatUint(st.Tip.GetHeight(), 10))
	// The rest of the page: the engine and its circuits, recent proofs, bars.
	rest, err := chromedp.Run(ctx, chromedp.Evaluate[struct {
		Engines, Recent, Bars int
		Circuits, Conn        string
	}](`({
		Engines: document.querySelectorAll("#engines tbody tr .pill").length,
		Circuits: document.querySelector("#engines tbody tr td:nth-child(3)").textContent,
		Recent: document.querySelectorAll("#recent tbody tr").length,
		Bars: [...document.querySelectorAll("#chart rect.bar")].filter((r) => Number(r.getAttribute("data-proofs")) > 0).length,
		Conn: document.getElementById("state").textContent,
	})`))
	if err != nil {
		t.Fatal(err)
	}
	if rest.Engines != 1 || !strings.Contains(rest.Circuits, "tx") || rest.Recent == 0 || rest.Bars == 0 || rest.Conn != "ready" {
		t.Errorf("page: %+v, want one engine holding tx, recent proofs, a bar, ready", rest)
	}
	browsertest.Screenshot(t, ctx, "status-page.png")
	n.shutdown(t)
	t.Logf("the page followed the node through %d calls; %s in all", len(reqs), time.Since(began).Round(time.Second))
}

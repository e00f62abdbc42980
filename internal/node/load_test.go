package node

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/proofd/proofd/examples/rollup"
	ingestv1 "github.com/proofd/proofd/proto/ingestv1"
)

// TestNodeUnderLoad sends a long chain as fast as a few senders can to a
// proving node with a small max-behind, and checks the back-pressure:
//
//   - ingest pushes back: senders see 429s, each with a Retry-After they
//     wait out, and proofd_ingest_throttled_total counts exactly those;
//   - the backlog is bounded: the pipeline's lag (status.behind) never
//     exceeds max-behind + 1, however many senders there are. Submit checks
//     the lag and appends under the inbox's one lock, so the last block
//     admitted finds at most max-behind events untaken; the pipeline holds
//     at most 2*bundle-size unsettled blocks beside that. (Finalize and
//     SetHead are not throttled: the chain here has neither.)
//   - nothing accepted is lost: every block is accepted exactly once (the
//     other senders get duplicate), the pipeline takes all of them, and
//     after a restart on the same data every one is known.
//
// The senders each send the whole chain in order, as replicas of a
// sequencer would: a block's parent is always in by the time it is sent.
func TestNodeUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("proves part of a 14-block chain (~1 min with the package's keys set up)")
	}
	// Every block past max-behind + 2*bundle-size is proven before the last
	// submit gets in, so the runtime is the setup (shared with the package's
	// other node tests) plus ~(blocks - 9) blocks' proofs. docs/ingest.md
	// has the figures.
	const blocks, senders = 14, 3
	cfg := testConfig(t)
	cfg.MaxBehind = 4
	var chain [][]byte
	var hashes []string
	for _, r := range simulated(t, rollup.SimConfig{Params: cfg.Params(), Seed: 11, Blocks: blocks, Reorgs: -1, FinalityDepth: 2 * blocks}) {
		if r.Method != "SubmitBlock" {
			t.Fatalf("the chain has a %s: want blocks only", r.Method)
		}
		var m struct{ Block struct{ Hash string } }
		if err := json.Unmarshal(r.Body, &m); err != nil {
			t.Fatal(err)
		}
		chain, hashes = append(chain, r.Body), append(hashes, m.Block.Hash)
	}
	f := inProcessPool(t)
	began := time.Now()
	n := start(t, cfg, f)
	t.Logf("ready after %s", time.Since(began).Round(time.Second))

	// Watch the lag and the heap while the senders run.
	var maxBehind, maxHeap atomic.Uint64
	watching, watched := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watched)
		c := client(n.base)
		var ms runtime.MemStats
		for {
			if st, err := c.GetStatus(context.Background(), connect.NewRequest(&ingestv1.GetStatusRequest{})); err == nil {
				maxBehind.Store(max(maxBehind.Load(), st.Msg.Behind))
			}
			runtime.ReadMemStats(&ms)
			maxHeap.Store(max(maxHeap.Load(), ms.HeapInuse))
			select {
			case <-watching:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()

	sent := time.Now()
	var throttled, accepted, duplicates atomic.Int64
	errs := make(chan error, senders)
	var wg sync.WaitGroup
	for range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, body := range chain {
				for {
					code, header, resp, err := post(n.base+"/proofd.ingest.v1.IngestService/SubmitBlock", body)
					if err != nil {
						errs <- err
						return
					}
					if code == http.StatusTooManyRequests {
						throttled.Add(1)
						secs, err := strconv.Atoi(header.Get("Retry-After"))
						if err != nil || secs < 1 {
							errs <- fmt.Errorf("block %d: 429 with Retry-After %q", i+1, header.Get("Retry-After"))
							return
						}
						time.Sleep(time.Duration(secs) * time.Second)
						continue
					}
					if code != http.StatusOK {
						errs <- fmt.Errorf("block %d: %d %s", i+1, code, resp)
						return
					}
					if strings.Contains(resp, `"duplicate":true`) {
						duplicates.Add(1)
					} else {
						accepted.Add(1)
					}
					break
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	last := time.Now()
	t.Logf("%d blocks sent by %d senders in %s: %d accepted, %d duplicates, %d throttled",
		blocks, senders, last.Sub(sent).Round(time.Second), accepted.Load(), duplicates.Load(), throttled.Load())
	if accepted.Load() != blocks || duplicates.Load() != blocks*(senders-1) {
		t.Errorf("accepted %d, duplicates %d: want every block accepted once", accepted.Load(), duplicates.Load())
	}
	if throttled.Load() == 0 {
		t.Error("no 429: the senders were never pushed back")
	}
	_, metrics := call(t, "GET", n.base+"/metrics", "")
	if want := fmt.Sprintf("proofd_ingest_throttled_total %d\n", throttled.Load()); !strings.Contains(metrics, want) {
		t.Errorf("/metrics lacks %q", want)
	}

	// The pipeline takes every accepted block (not every proof).
	deadline := time.Now().Add(5 * time.Minute)
	for st := status(t, n.base); st.Behind != 0 || st.BlocksAccepted != blocks; st = status(t, n.base) {
		if time.Now().After(deadline) {
			t.Fatalf("the pipeline has not taken every block: %v", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	close(watching)
	<-watched
	t.Logf("all taken %s after the last submit; at most %d behind, heap in use at most %d MiB",
		time.Since(last).Round(time.Second), maxBehind.Load(), maxHeap.Load()>>20)
	if limit := uint64(cfg.MaxBehind + 1); maxBehind.Load() > limit {
		t.Errorf("the pipeline was %d events behind: over max-behind + 1 = %d", maxBehind.Load(), limit)
	}
	n.shutdown(t)

	// Restarted on the same data, the node knows every block.
	n = start(t, cfg, f)
	c := client(n.base)
	for i, h := range hashes {
		b, err := c.GetBlock(context.Background(), connect.NewRequest(&ingestv1.GetBlockRequest{Hash: h}))
		if err != nil {
			t.Errorf("block %d after the restart: %v", i+1, err)
			continue
		}
		if b.Msg.Height != uint64(i+1) || !b.Msg.Canonical || (i > 0 && b.Msg.Parent != hashes[i-1]) {
			t.Errorf("block %d after the restart: %v", i+1, b.Msg)
		}
	}
	n.shutdown(t)
	t.Logf("whole test %s", time.Since(began).Round(time.Second))
}

// post sends body as JSON and returns the answer; an error only when there
// is none.
func post(url string, body []byte) (int, http.Header, string, error) {
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b), err
}

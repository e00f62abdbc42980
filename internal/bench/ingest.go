package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/proofd/proofd/examples/rollup"
	"github.com/proofd/proofd/examples/rollup/prover"
	"github.com/proofd/proofd/internal/node"
)

// IngestConfig configures Ingest.
type IngestConfig struct {
	Blocks  int // blocks per round (default 400)
	Rounds  int // measured rounds after a warm-up (default 5)
	Clients int // concurrent clients of the concurrent case (default 4)
	// Pool, when set, adds the latency case under proving: a real node
	// (depth 4, one tx per block, one engine) proving while a client
	// submits at a steady rate, against the same submits to a node that
	// does not prove.
	Pool     prover.Pool
	Progress io.Writer
}

// Ingest measures the node's ingest API against the store under it:
//
//   - "api": N valid blocks, pre-encoded as JSON, posted one after another
//     by one client to a node's Handler on a loopback listener over a fresh
//     data dir; each answer 200 means one block synced into the inbox.
//     The node is node.IngestOnly without consumption and with max-behind
//     above N: nothing throttles and nothing proves, so this is the API's
//     own cost (HTTP, JSON, validation, the inbox) on top of the write.
//   - "api, C clients": the same N blocks as C chains from genesis (forks
//     of each other, which the inbox takes), one client each, at once.
//   - "raw pebble": the very records the api round left in its inbox (key
//     and value bytes), written to a fresh pebble DB, each a batch of one
//     committed with pebble.Sync, as the inbox does; and, for context, 16
//     to a batch.
//
// Rounds alternate the cases. ingest_over_raw_store is, per round, the
// api's time per block over raw pebble's (one Sync per record).
func Ingest(ctx context.Context, cfg IngestConfig) (*Report, error) {
	if cfg.Blocks == 0 {
		cfg.Blocks = 400
	}
	if cfg.Rounds == 0 {
		cfg.Rounds = 5
	}
	if cfg.Clients == 0 {
		cfg.Clients = 4
	}
	progress := cfg.Progress
	if progress == nil {
		progress = io.Discard
	}
	tmp, err := os.MkdirTemp("", "proofd-bench-ingest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	ncfg := node.Defaults()
	ncfg.HTTPAddr, ncfg.MaxBehind = "127.0.0.1:0", cfg.Blocks+1
	// One chain for the sequential case; Clients chains from other seeds
	// for the concurrent one.
	one, err := chainBodies(ncfg.Params(), 1, cfg.Blocks)
	if err != nil {
		return nil, err
	}
	var many [][][]byte
	for c := range cfg.Clients {
		bodies, err := chainBodies(ncfg.Params(), int64(2+c), cfg.Blocks/cfg.Clients)
		if err != nil {
			return nil, err
		}
		many = append(many, bodies)
	}
	fmt.Fprintf(progress, "ingest: %d blocks of %d bytes of JSON per round\n", len(one), len(one[0]))

	rep := newReport("ingest")
	apiCase, concCase := "api, 1 client, per block", fmt.Sprintf("api, %d clients, per block", cfg.Clients)
	raw1, raw16 := "raw pebble, 1 per Sync, per record", "raw pebble, 16 per Sync, per record"
	s := samples{}
	var overRaw, concOverRaw []float64
	var records []record
	for round := range cfg.Rounds + 1 {
		warmup := round == 0 // also collects the records the raw case writes
		dir := filepath.Join(tmp, fmt.Sprintf("round-%d", round))
		ncfg.DataDir = filepath.Join(dir, "api")
		api, err := postChains(ctx, ncfg, [][][]byte{one})
		if err != nil {
			return nil, fmt.Errorf("api: %w", err)
		}
		if warmup {
			if records, err = readRecords(filepath.Join(ncfg.DataDir, "inbox")); err != nil {
				return nil, err
			}
			if len(records) != len(one) {
				return nil, fmt.Errorf("the inbox holds %d records after %d blocks", len(records), len(one))
			}
			fmt.Fprintf(progress, "warm-up: %d records, key %d bytes, value %d bytes\n", len(records), len(records[0].k), len(records[0].v))
			os.RemoveAll(dir)
			continue
		}
		raw, err := writeRaw(filepath.Join(dir, "raw1"), records, 1)
		if err != nil {
			return nil, err
		}
		ncfg.DataDir = filepath.Join(dir, "api-concurrent")
		conc, err := postChains(ctx, ncfg, many)
		if err != nil {
			return nil, fmt.Errorf("api, %d clients: %w", cfg.Clients, err)
		}
		batched, err := writeRaw(filepath.Join(dir, "raw16"), records, 16)
		if err != nil {
			return nil, err
		}
		os.RemoveAll(dir)
		perAPI, perConc := api/time.Duration(len(one)), conc/time.Duration(cfg.Blocks/cfg.Clients*cfg.Clients)
		perRaw, perBatched := raw/time.Duration(len(records)), batched/time.Duration(len(records))
		s[apiCase] = append(s[apiCase], perAPI)
		s[concCase] = append(s[concCase], perConc)
		s[raw1] = append(s[raw1], perRaw)
		s[raw16] = append(s[raw16], perBatched)
		overRaw = append(overRaw, float64(perAPI)/float64(perRaw))
		concOverRaw = append(concOverRaw, float64(perConc)/float64(perRaw))
		fmt.Fprintf(progress, "round %d: api %.3f ms/block, %d clients %.3f ms/block, raw %.3f ms/record, raw 16 per Sync %.3f ms/record\n",
			round, msOf(perAPI), cfg.Clients, msOf(perConc), msOf(perRaw), msOf(perBatched))
	}
	rep.addRows(s, []string{apiCase, concCase, raw1, raw16})
	rep.spread("ingest_over_raw_store", overRaw)
	rep.spread(fmt.Sprintf("ingest_%d_clients_over_raw_store", cfg.Clients), concOverRaw)
	rep.ratio("raw_16_per_sync_over_1", s, raw16, raw1)
	rep.Ratios["api_blocks_per_s"] = round3(1000 / s.median(apiCase))
	rep.Ratios[fmt.Sprintf("api_%d_clients_blocks_per_s", cfg.Clients)] = round3(1000 / s.median(concCase))

	if cfg.Pool != nil {
		if err := ingestUnderProving(ctx, rep, cfg.Pool, tmp, progress); err != nil {
			return nil, fmt.Errorf("under proving: %w", err)
		}
	}
	return rep, nil
}

// chainBodies is a simulated chain of n blocks (no reorg, no finality
// mark) as SubmitBlock JSON bodies.
func chainBodies(p rollup.Params, seed int64, n int) ([][]byte, error) {
	var buf bytes.Buffer
	if err := node.WriteSimulated(&buf, rollup.SimConfig{Params: p, Seed: seed, Blocks: n, Reorgs: -1, FinalityDepth: n + 1}); err != nil {
		return nil, err
	}
	var bodies [][]byte
	for _, line := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		var r node.SimRequest
		if err := json.Unmarshal(line, &r); err != nil {
			return nil, err
		}
		if r.Method != "SubmitBlock" {
			return nil, fmt.Errorf("simulated chain: a %s", r.Method)
		}
		bodies = append(bodies, r.Body)
	}
	return bodies, nil
}

// postChains serves an IngestOnly node on cfg.DataDir on a loopback
// listener and posts each chain from a client of its own, all at once; it
// returns the wall time of the posts.
func postChains(ctx context.Context, cfg node.Config, chains [][][]byte) (time.Duration, error) {
	n, err := node.StartIngestOnly(cfg, prometheus.NewRegistry(), false)
	if err != nil {
		return 0, err
	}
	defer n.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	srv := &http.Server{Handler: n.Handler()}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/proofd.ingest.v1.IngestService/SubmitBlock"
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: len(chains)}}
	defer hc.CloseIdleConnections()

	start := time.Now()
	errs := make(chan error, len(chains))
	var wg sync.WaitGroup
	for _, bodies := range chains {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, b := range bodies {
				if _, err := submitOne(ctx, hc, url, b); err != nil {
					errs <- fmt.Errorf("block %d: %w", i+1, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	close(errs)
	return took, <-errs
}

// submitOne posts one block and wants it accepted (not a duplicate); it
// returns how long the answer took.
func submitOne(ctx context.Context, hc *http.Client, url string, body []byte) (time.Duration, error) {
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	answer, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK || !bytes.Contains(answer, []byte(`"duplicate":false`)) {
		return 0, fmt.Errorf("%d %.200s", resp.StatusCode, answer)
	}
	return took, nil
}

type record struct{ k, v []byte }

// readRecords is every key and value of a pebble DB, in key order.
func readRecords(dir string) ([]record, error) {
	db, err := pebble.Open(dir, &pebble.Options{ReadOnly: true, Logger: quietPebble{}})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	it, err := db.NewIter(nil)
	if err != nil {
		return nil, err
	}
	var out []record
	for it.First(); it.Valid(); it.Next() {
		out = append(out, record{slices.Clone(it.Key()), slices.Clone(it.Value())})
	}
	return out, errors.Join(it.Error(), it.Close())
}

// writeRaw writes records to a fresh pebble DB in dir, perSync to a batch,
// each batch committed with pebble.Sync; it returns the writes' wall time.
func writeRaw(dir string, records []record, perSync int) (time.Duration, error) {
	db, err := pebble.Open(dir, &pebble.Options{Logger: quietPebble{}})
	if err != nil {
		return 0, err
	}
	defer db.Close()
	start := time.Now()
	for i := 0; i < len(records); i += perSync {
		b := db.NewBatch()
		for _, r := range records[i:min(i+perSync, len(records))] {
			if err := b.Set(r.k, r.v, nil); err != nil {
				return 0, err
			}
		}
		if err := b.Commit(pebble.Sync); err != nil {
			return 0, err
		}
		b.Close()
	}
	return time.Since(start), nil
}

// quietPebble drops pebble's routine messages and keeps its errors.
type quietPebble struct{}

func (quietPebble) Infof(string, ...any)              {}
func (quietPebble) Errorf(format string, args ...any) { pebble.DefaultLogger.Errorf(format, args...) }
func (quietPebble) Fatalf(format string, args ...any) { pebble.DefaultLogger.Fatalf(format, args...) }

// The latency case: a steady stream of submits, once to a node that does
// not prove and once to a real node proving the chain as it comes.
const (
	latencyBlocks   = 150
	latencyInterval = 100 * time.Millisecond
)

// ingestUnderProving adds the submit latencies, idle and under proving,
// to rep: p50 and p99 of each, and p99_under_proving_over_idle.
func ingestUnderProving(ctx context.Context, rep *Report, pool prover.Pool, tmp string, progress io.Writer) error {
	cfg := node.Defaults()
	cfg.HTTPAddr, cfg.Engines, cfg.MaxBehind, cfg.ShutdownFor = "127.0.0.1:0", 1, 10*latencyBlocks, time.Second
	cfg.Depth, cfg.TxsPerBlock, cfg.BundleSize = 4, 1, 2
	bodies, err := chainBodies(cfg.Params(), 1, latencyBlocks)
	if err != nil {
		return err
	}

	// Idle: the same submits to a node that takes every block and proves
	// nothing.
	cfg.DataDir = filepath.Join(tmp, "idle")
	idleNode, err := node.StartIngestOnly(cfg, prometheus.NewRegistry(), true)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		idleNode.Close()
		return err
	}
	srv := &http.Server{Handler: idleNode.Handler()}
	go srv.Serve(ln)
	idle, err := paced(ctx, "http://"+ln.Addr().String(), bodies)
	srv.Close()
	idleNode.Close()
	if err != nil {
		return fmt.Errorf("idle: %w", err)
	}

	// Under proving: a real node, set up from scratch.
	cfg.DataDir = filepath.Join(tmp, "proving")
	nctx, stop := context.WithCancel(ctx)
	defer stop()
	addr := make(chan string, 1)
	ran := make(chan error, 1)
	go func() {
		ran <- node.Run(nctx, cfg, node.Options{Pool: pool, Registry: prometheus.NewRegistry(), Listening: func(a string) { addr <- a }})
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case err := <-ran:
		return fmt.Errorf("node: %v", err)
	}
	fmt.Fprintln(progress, "under proving: setting the circuits up")
	setup := time.Now()
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-ran:
			return fmt.Errorf("node stopped while starting: %v", err)
		case <-time.After(200 * time.Millisecond):
		}
	}
	fmt.Fprintf(progress, "under proving: ready after %s; submitting %d blocks, one per %s\n", time.Since(setup).Round(time.Second), len(bodies), latencyInterval)
	proving, err := paced(ctx, base, bodies)
	stop()
	if rerr := <-ran; err == nil && rerr != nil {
		err = rerr
	}
	if err != nil {
		return err
	}

	for _, c := range []struct {
		name, slug string
		d          []time.Duration
	}{{"submit, idle node", "idle", idle}, {"submit, node proving", "under_proving", proving}} {
		slices.Sort(c.d)
		rep.Rows = append(rep.Rows, Row{Case: c.name, N: len(c.d), MedianMS: msOf(median(c.d)), MinMS: msOf(c.d[0]), MaxMS: msOf(c.d[len(c.d)-1])})
		rep.Ratios[c.slug+"_p50_ms"] = round3(msOf(c.d[len(c.d)/2]))
		rep.Ratios[c.slug+"_p99_ms"] = round3(msOf(c.d[len(c.d)*99/100]))
	}
	rep.Ratios["p99_under_proving_over_idle"] = round3(rep.Ratios["under_proving_p99_ms"] / rep.Ratios["idle_p99_ms"])
	rep.Ratios["p50_under_proving_over_idle"] = round3(rep.Ratios["under_proving_p50_ms"] / rep.Ratios["idle_p50_ms"])
	return nil
}

// paced submits bodies to the node at base, one per latencyInterval, and
// returns each submit's latency.
func paced(ctx context.Context, base string, bodies [][]byte) ([]time.Duration, error) {
	hc := &http.Client{Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()
	url := base + "/proofd.ingest.v1.IngestService/SubmitBlock"
	tick := time.NewTicker(latencyInterval)
	defer tick.Stop()
	var out []time.Duration
	for i, b := range bodies {
		d, err := submitOne(ctx, hc, url, b)
		if err != nil {
			return nil, fmt.Errorf("block %d: %w", i+1, err)
		}
		out = append(out, d)
		select {
		case <-tick.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return out, nil
}

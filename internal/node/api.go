package node

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/proofd/proofd/pipeline"
)

// Handler is the node's HTTP API:
//
//	GET  /healthz          200 while the process serves
//	GET  /readyz           200 once the circuits are ready and until shutdown begins, else 503
//	GET  /metrics          Prometheus
//	POST /v1/blocks        submit a block (JSON, see wireBlock)
//	POST /v1/head          {"hash": H}: a block submitted before is the head again (a reorg back to its fork)
//	POST /v1/finalize      {"height": N}: the chain is final up to N (prunes below)
//	GET  /v1/status        Status
//	GET  /v1/settlement    the latest aggregate proof: height, block, proof and public inputs (hex)
func (n *Node) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !n.ready.Load() || n.draining.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(n.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("POST /v1/blocks", n.submitBlock)
	mux.HandleFunc("POST /v1/head", n.setHead)
	mux.HandleFunc("POST /v1/finalize", n.finalize)
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, n.snapshot()) })
	mux.HandleFunc("GET /v1/settlement", n.settlement)
	return mux
}

type apiError struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// decodeBody reads one JSON object of at most MaxBody bytes, refusing
// unknown fields and trailing data; the error names what was wrong.
func (n *Node) decodeBody(w http.ResponseWriter, r *http.Request, v any) (int, error) {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, n.cfg.MaxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &tooBig):
			return http.StatusRequestEntityTooLarge, fmt.Errorf("body: over %d bytes", n.cfg.MaxBody)
		case errors.As(err, &typ):
			return http.StatusBadRequest, fmt.Errorf("%s: want %s, got %s", typ.Field, typ.Type, typ.Value)
		}
		return http.StatusBadRequest, fmt.Errorf("body: %v", err)
	}
	if dec.More() {
		return http.StatusBadRequest, errors.New("body: data after the JSON object")
	}
	return 0, nil
}

func (n *Node) refuse(w http.ResponseWriter, kind, outcome string, code int, err error) {
	n.ingest.WithLabelValues(kind, outcome).Inc()
	writeJSON(w, code, apiError{Error: err.Error()})
}

func (n *Node) submitBlock(w http.ResponseWriter, r *http.Request) {
	if !n.ready.Load() || n.draining.Load() {
		w.Header().Set("Retry-After", "5")
		n.refuse(w, "block", "unavailable", http.StatusServiceUnavailable, errors.New("the node is starting or stopping"))
		return
	}
	var wb wireBlock
	if code, err := n.decodeBody(w, r, &wb); err != nil {
		n.refuse(w, "block", "invalid", code, err)
		return
	}
	b, err := wb.decode(n.p)
	if err != nil {
		n.refuse(w, "block", "invalid", http.StatusBadRequest, err)
		return
	}
	payload, err := b.MarshalBinary()
	if err != nil {
		n.refuse(w, "block", "invalid", http.StatusBadRequest, err)
		return
	}
	ev := pipeline.Event{Block: &pipeline.Block{Height: b.Height, Hash: b.Hash, Parent: b.Parent, Txs: len(b.Txs)}, Payload: payload}
	res, err := n.inbox.submit(ev, n.cfg.MaxBehind)
	switch {
	case err != nil:
		n.refuse(w, "block", "error", http.StatusInternalServerError, err)
	case res == duplicate:
		n.ingest.WithLabelValues("block", "duplicate").Inc()
		writeJSON(w, http.StatusOK, map[string]any{"hash": wb.Hash, "duplicate": true})
	case res == unknownParent:
		n.refuse(w, "block", "unknown_parent", http.StatusBadRequest, fmt.Errorf("parent: unknown block %s", wb.Parent))
	case res == badHeight:
		n.refuse(w, "block", "invalid", http.StatusBadRequest, fmt.Errorf("height: %d does not follow its parent's", b.Height))
	case res == behind:
		w.Header().Set("Retry-After", "2")
		n.refuse(w, "block", "throttled", http.StatusTooManyRequests, fmt.Errorf("the pipeline is more than %d blocks behind; retry later", n.cfg.MaxBehind))
	default:
		n.ingest.WithLabelValues("block", "accepted").Inc()
		writeJSON(w, http.StatusOK, map[string]any{"hash": wb.Hash, "duplicate": false})
	}
}

func (n *Node) finalize(w http.ResponseWriter, r *http.Request) {
	if n.draining.Load() {
		n.refuse(w, "finalize", "unavailable", http.StatusServiceUnavailable, errors.New("the node is stopping"))
		return
	}
	var req struct {
		Height *uint64 `json:"height"`
	}
	if code, err := n.decodeBody(w, r, &req); err != nil {
		n.refuse(w, "finalize", "invalid", code, err)
		return
	}
	if req.Height == nil {
		n.refuse(w, "finalize", "invalid", http.StatusBadRequest, errors.New("height: missing"))
		return
	}
	if err := n.inbox.finalize(*req.Height); err != nil {
		n.refuse(w, "finalize", "error", http.StatusInternalServerError, err)
		return
	}
	n.ingest.WithLabelValues("finalize", "accepted").Inc()
	writeJSON(w, http.StatusOK, map[string]any{"height": *req.Height})
}

func (n *Node) setHead(w http.ResponseWriter, r *http.Request) {
	if !n.ready.Load() || n.draining.Load() {
		w.Header().Set("Retry-After", "5")
		n.refuse(w, "head", "unavailable", http.StatusServiceUnavailable, errors.New("the node is starting or stopping"))
		return
	}
	var req struct {
		Hash string `json:"hash"`
	}
	if code, err := n.decodeBody(w, r, &req); err != nil {
		n.refuse(w, "head", "invalid", code, err)
		return
	}
	h, err := hex32("hash", req.Hash)
	if err != nil {
		n.refuse(w, "head", "invalid", http.StatusBadRequest, err)
		return
	}
	ok, err := n.inbox.head(h)
	switch {
	case err != nil:
		n.refuse(w, "head", "error", http.StatusInternalServerError, err)
	case !ok:
		n.refuse(w, "head", "unknown_block", http.StatusBadRequest, fmt.Errorf("hash: unknown block %s", req.Hash))
	default:
		n.ingest.WithLabelValues("head", "accepted").Inc()
		writeJSON(w, http.StatusOK, map[string]any{"hash": req.Hash})
	}
}

func (n *Node) settlement(w http.ResponseWriter, _ *http.Request) {
	n.mu.Lock()
	in := n.settle
	n.mu.Unlock()
	if in == nil {
		writeJSON(w, http.StatusNotFound, apiError{Error: "no aggregate proof published yet"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"height": strconv.FormatUint(in.Job.Height, 10), "block": hex.EncodeToString(in.Job.Block[:]),
		"proof": hex.EncodeToString(in.Receipt.Proof), "public": hex.EncodeToString(in.Receipt.Public),
	})
}

package node

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/proofd/proofd/internal/node/statuspage"
	"github.com/proofd/proofd/pipeline"
	ingestv1 "github.com/proofd/proofd/proto/ingestv1"
	"github.com/proofd/proofd/proto/ingestv1/ingestv1connect"
)

// Handler is the node's HTTP surface:
//
//	GET  /          the status page (internal/node/statuspage), polling GetStatus
//	GET  /healthz   200 while the process serves
//	GET  /readyz    200 once the circuits are ready and until shutdown begins, else 503
//	GET  /metrics   Prometheus, the node's own registry
//	POST /proofd.ingest.v1.IngestService/<Method>
//	                the ingest API (proto/ingestv1/ingest.proto): gRPC, gRPC-Web,
//	                or JSON with Content-Type: application/json
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
	path, h := ingestv1connect.NewIngestServiceHandler(service{n},
		connect.WithCodec(jsonCodec{}), connect.WithReadMaxBytes(int(n.cfg.MaxBody)))
	mux.Handle(path, n.limitBody(n.countRefusals(h)))
	statuspage.Register(mux)
	return mux
}

// jsonCodec is protojson with the .proto's own (snake_case) field names and
// every field written, zero or not, so a JSON client sees the whole shape.
// Unknown fields are an error that names them.
type jsonCodec struct{}

func (jsonCodec) Name() string { return "json" }

func (jsonCodec) Marshal(m any) ([]byte, error) {
	msg, ok := m.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("json codec: %T is not a protobuf message", m)
	}
	return protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}.Marshal(msg)
}

func (jsonCodec) Unmarshal(b []byte, m any) error {
	msg, ok := m.(proto.Message)
	if !ok {
		return fmt.Errorf("json codec: %T is not a protobuf message", m)
	}
	return protojson.Unmarshal(b, msg)
}

// limitBody answers 413 to a request whose declared body is over
// max-body-bytes before reading any of it (connect's own limit catches a
// body of undeclared length, as resource_exhausted).
func (n *Node) limitBody(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > n.cfg.MaxBody {
			n.ingest.WithLabelValues(kindOf(r.URL.Path), "too_large").Inc()
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			json.NewEncoder(w).Encode(map[string]string{"code": "resource_exhausted",
				"message": fmt.Sprintf("body: %d bytes, over max-body-bytes %d", r.ContentLength, n.cfg.MaxBody)})
			return
		}
		h.ServeHTTP(w, r)
	})
}

type countedKey struct{}

// count records one ingest request's outcome in
// proofd_ingest_requests_total{kind,outcome}.
func (n *Node) count(ctx context.Context, kind, outcome string) {
	if c, ok := ctx.Value(countedKey{}).(*bool); ok {
		*c = true
	}
	n.ingest.WithLabelValues(kind, outcome).Inc()
	if outcome == "throttled" {
		n.throttled.Inc()
	}
}

// countRefusals counts the requests connect refused before a method ran (a
// body that does not decode, a wrong content type) as outcome "invalid".
func (n *Node) countRefusals(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		counted := false
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), countedKey{}, &counted)))
		if !counted && rec.code >= 400 {
			n.ingest.WithLabelValues(kindOf(r.URL.Path), "invalid").Inc()
		}
	})
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// kindOf names a request for the metrics by its method: block, head,
// finalize, or the method's name in lower case.
func kindOf(path string) string {
	method := path[strings.LastIndexByte(path, '/')+1:]
	switch method {
	case "SubmitBlock":
		return "block"
	case "SetHead":
		return "head"
	}
	return strings.ToLower(method)
}

// status is GetStatus's answer: the node, the pipeline and the pool.
func (n *Node) status(ctx context.Context) *ingestv1.GetStatusResponse {
	out := &ingestv1.GetStatusResponse{Ready: n.ready.Load(), Draining: n.draining.Load(),
		Behind: n.inbox.behind(), StartedUnixMs: n.started.UnixMilli()}
	n.track.status(out)
	if out.Ready && !out.Draining {
		n.query(ctx, func(v pipeline.View) { out.Finalized = v.Finalized() })
	}
	if n.engines != nil {
		out.Engines = n.engines()
	}
	return out
}

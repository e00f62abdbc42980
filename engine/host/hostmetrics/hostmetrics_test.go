package hostmetrics_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"

	"github.com/proofd/proofd/engine"
	"github.com/proofd/proofd/engine/host"
	"github.com/proofd/proofd/engine/host/hostmetrics"
	"github.com/proofd/proofd/proto/enginev1"
)

// A real engine server, in process: its calls are counted by method and
// code, and timed by method.
func TestCallsOfARealServer(t *testing.T) {
	reg := prometheus.NewRegistry()
	done, err := hostmetrics.CallDone(reg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := host.NewServer(host.Config{Kind: "test", Register: func(*grpc.Server, *host.Store) {}, Hooks: host.Hooks{CallDone: done}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := engine.InProcess(ctx, srv.ServeInProcess())
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := c.Health(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// A digest of the wrong length is bad input.
	if _, err := enginev1.NewEngineClient(c.Raw()).Has(ctx, &enginev1.HasRequest{Digests: [][]byte{{1}}}); err == nil {
		t.Fatal("Has took a one-byte digest")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP proofd_engine_host_calls_total Calls the engine served, by method and gRPC status code.
# TYPE proofd_engine_host_calls_total counter
proofd_engine_host_calls_total{code="InvalidArgument",method="Has"} 1
proofd_engine_host_calls_total{code="OK",method="Handshake"} 1
proofd_engine_host_calls_total{code="OK",method="Health"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "proofd_engine_host_calls_total"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(reg, "proofd_engine_host_call_seconds"); err != nil || n != 3 {
		t.Errorf("call_seconds: %d series, %v; want Handshake, Health and Has", n, err)
	}
}

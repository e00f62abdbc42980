package enginemetrics_test

import (
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/proofd/proofd/engine/enginemetrics"
)

// Each RPC lands in the series of its method and status code.
func TestRPCByOpAndCode(t *testing.T) {
	reg := prometheus.NewRegistry()
	obs, err := enginemetrics.RPC(reg)
	if err != nil {
		t.Fatal(err)
	}
	obs("Prove", 2*time.Second, nil)
	obs("Prove", 3*time.Second, nil)
	obs("Prove", time.Second, status.Error(codes.Unavailable, "engine gone"))
	obs("Verify", 250*time.Millisecond, status.Error(codes.InvalidArgument, "bad proof"))
	obs("Upload", time.Millisecond, errors.New("not a status"))

	if n, err := testutil.GatherAndCount(reg, "proofd_engine_rpc_seconds"); err != nil || n != 4 {
		t.Fatalf("rpc_seconds: %d series, %v; want 4 (Prove OK and Unavailable, Verify InvalidArgument, Upload Unknown)", n, err)
	}
	for _, c := range []struct {
		op, code string
		n        uint64
		sum      float64
	}{
		{"Prove", "OK", 2, 5},
		{"Prove", "Unavailable", 1, 1},
		{"Verify", "InvalidArgument", 1, 0.25},
		{"Upload", "Unknown", 1, 0.001},
	} {
		n, sum := series(t, reg, c.op, c.code)
		if n != c.n || sum != c.sum {
			t.Errorf("rpc_seconds{op=%q,code=%q}: %d samples summing %v, want %d summing %v", c.op, c.code, n, sum, c.n, c.sum)
		}
	}
	if _, err := enginemetrics.RPC(reg); err == nil {
		t.Fatal("registering twice succeeded")
	}
}

func series(t *testing.T, reg *prometheus.Registry, op, code string) (uint64, float64) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["op"] == op && labels["code"] == code {
				return m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum()
			}
		}
	}
	return 0, 0
}

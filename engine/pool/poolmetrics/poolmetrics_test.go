package poolmetrics

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/proofd/proofd/artifact"
)

func TestHooksUpdateMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	h, err := Hooks(reg)
	if err != nil {
		t.Fatal(err)
	}
	h.PoolSize(2)
	h.Load(1, 3)
	h.Started(10*time.Millisecond, nil)
	h.Started(time.Millisecond, errors.New("boom"))
	h.Died("test")
	h.Respawned()
	h.Call(time.Millisecond, nil)
	h.Poison([]artifact.Digest{{1}})
	want := `
# HELP proofd_engine_waiting Callers waiting for an engine.
# TYPE proofd_engine_waiting gauge
proofd_engine_waiting 3
# HELP proofd_engine_starts_total Engine starts.
# TYPE proofd_engine_starts_total counter
proofd_engine_starts_total{result="error"} 1
proofd_engine_starts_total{result="ok"} 1
# HELP proofd_engine_deaths_total Pooled engines found dead.
# TYPE proofd_engine_deaths_total counter
proofd_engine_deaths_total 1
# HELP proofd_engine_poison_requests_total Requests given up on because they kill engines.
# TYPE proofd_engine_poison_requests_total counter
proofd_engine_poison_requests_total 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "proofd_engine_waiting", "proofd_engine_starts_total", "proofd_engine_deaths_total", "proofd_engine_poison_requests_total"); err != nil {
		t.Fatal(err)
	}
	if _, err := Hooks(reg); err == nil {
		t.Fatal("registering twice succeeded")
	}
}

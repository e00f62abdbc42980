package vmmetrics_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/engine/enginetest"
	"github.com/proofd/proofd/engine/vmclient"
	"github.com/proofd/proofd/vm"
	"github.com/proofd/proofd/vm/vmengine"
	"github.com/proofd/proofd/vm/vmengine/vmmetrics"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// A real run of the hello guest on an in-process VM engine: the steps
// counted are the steps the load reports, and every snapshot it kept (plus
// the final state) was counted.
func TestMetricsOfARealRun(t *testing.T) {
	st, _, err := vm.LoadELF(filepath.Join("..", "..", "..", "testdata", "guests", "hello.elf"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "prestate")
	if err := vm.WriteState(path, st); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pre := artifact.New(b)

	reg := prometheus.NewRegistry()
	hooks, err := vmmetrics.Hooks(reg)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := vmengine.Config(nil, vmengine.Options{Hooks: hooks})
	if err != nil {
		t.Fatal(err)
	}
	c := enginetest.InProcess(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	info, err := vmclient.New(c).Load(ctx, vmclient.LoadRequest{Prestate: pre, MaxSteps: 300_000, SnapshotEvery: 100_000})
	if err != nil {
		t.Fatal(err)
	}
	steps := info.EndStep - info.StartStep
	if steps == 0 {
		t.Fatalf("the run executed nothing: %+v", info)
	}
	if got := value(t, reg, "proofd_vm_steps_total"); got != float64(steps) {
		t.Errorf("steps_total %v, the load ran %d steps", got, steps)
	}
	if got := value(t, reg, "proofd_vm_snapshots_total"); got != float64(info.Snapshots+1) {
		t.Errorf("snapshots_total %v, the load kept %d snapshots and a final state", got, info.Snapshots)
	}
	if got := value(t, reg, "proofd_vm_snapshot_bytes_total"); got <= 0 {
		t.Errorf("snapshot_bytes_total %v", got)
	}
	if got := value(t, reg, "proofd_vm_steps_per_second"); got <= 0 {
		t.Errorf("steps_per_second %v", got)
	}
}

// value is the value of the one unlabelled series of name, a counter or
// a gauge.
func value(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			return m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no %s", name)
	return 0
}

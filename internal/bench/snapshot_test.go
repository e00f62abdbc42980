package bench_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/proofd/proofd/engine/enginetest"
	"github.com/proofd/proofd/internal/bench"
)

// TestMain serves Snapshot's peak-RSS children (this test binary is the
// executable Snapshot starts) and fails the package on leaked goroutines.
func TestMain(m *testing.M) {
	if job := os.Getenv(bench.SnapshotChildEnv); job != "" {
		if err := bench.SnapshotChild(job, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	code := m.Run()
	enginetest.Cleanup() // the proofd binary BenchmarkVerifyPath built
	if err := goleak.Find(); err != nil {
		fmt.Fprintln(os.Stderr, "goleak:", err)
		code = 1
	}
	os.Exit(code)
}

func TestSnapshotQuick(t *testing.T) {
	var progress strings.Builder
	rep, err := bench.Snapshot(context.Background(), bench.SnapshotConfig{Quick: true, Dir: t.TempDir(), Progress: &progress})
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	if rep.Bench != "snapshot" {
		t.Errorf("bench = %q, want snapshot", rep.Bench)
	}
	names := []string{
		"write_speedup_vs_cannon_gz", "size_over_cannon_gz", "claim_read_ms",
		"load_to_witness_speedup_vs_cannon", "load_to_witness_speedup_vs_cannon_bin",
		"write_peak_rss_over_guest_mem",
	}
	for _, sfx := range []string{"", "_sparse", "_random"} {
		for _, n := range names {
			if v := rep.Ratios[n+sfx]; !(v > 0) {
				t.Errorf("ratio %s = %v, want > 0", n+sfx, v)
			}
		}
	}
	if _, ok := rep.Ratios["warm_proof_speedup_vs_rerun"]; ok {
		t.Error("warm_proof_speedup_vs_rerun is not this benchmark's to report")
	}
	for _, row := range rep.Rows {
		if row.N == 0 || !(row.MedianMS > 0) {
			t.Errorf("row %+v: no samples", row)
		}
		if strings.HasPrefix(row.Case, "write ") || strings.HasPrefix(row.Case, "peak-rss-write ") {
			if row.Bytes <= 0 {
				t.Errorf("row %q: bytes = %d, want the file size or peak RSS", row.Case, row.Bytes)
			}
		}
	}
	// A snapshot of random pages cannot beat .bin by much; of sparse pages it must.
	if r := rep.Ratios["size_over_cannon_bin_sparse"]; !(r > 0 && r < 0.5) {
		t.Errorf("size_over_cannon_bin_sparse = %v, want well under 1", r)
	}
}

// TestSnapshotReport runs the full benchmark when PROOFD_BENCH_SNAPSHOT_MIB
// is set (for example to 300) and prints its table and JSON: the same
// figures as "proofd bench snapshot --json --mib N".
func TestSnapshotReport(t *testing.T) {
	mib, err := strconv.Atoi(os.Getenv("PROOFD_BENCH_SNAPSHOT_MIB"))
	if err != nil {
		t.Skip("set PROOFD_BENCH_SNAPSHOT_MIB to run the full benchmark")
	}
	rep, err := bench.Snapshot(context.Background(), bench.SnapshotConfig{MiB: mib, Progress: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	rep.WriteTable(os.Stdout)
	if err := rep.WriteJSON(os.Stdout); err != nil {
		t.Fatal(err)
	}
}

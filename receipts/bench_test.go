package receipts

import (
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// BenchmarkPut measures durable Puts on the real disk from 1 writer and
// then from 8, in the same run, and reports the throughput ratio and WAL
// syncs per Put of each.
func BenchmarkPut(b *testing.B) {
	fs := &syncCountingFS{FS: vfs.Default}
	s := openT(b, b.TempDir(), Options{FS: fs})
	b.ResetTimer()
	start := time.Now()
	serialSyncs := putAll(b, s, fs, 0, b.N, 1)
	serial := time.Since(start)
	start = time.Now()
	concurrentSyncs := putAll(b, s, fs, uint64(b.N), b.N, 8)
	concurrent := time.Since(start)
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(n/serial.Seconds(), "puts/s_1writer")
	b.ReportMetric(n/concurrent.Seconds(), "puts/s_8writers")
	b.ReportMetric(serial.Seconds()/concurrent.Seconds(), "8writers_over_1writer")
	b.ReportMetric(float64(serialSyncs)/n, "syncs/put_1writer")
	b.ReportMetric(float64(concurrentSyncs)/n, "syncs/put_8writers")
}

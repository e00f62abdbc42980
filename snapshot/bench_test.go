package snapshot

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ethereum-optimism/optimism/cannon/mipsevm/memory"
	"github.com/ethereum-optimism/optimism/cannon/mipsevm/versions"
	"github.com/ethereum-optimism/optimism/op-service/serialize"
)

const benchPages = 16384 // 64 MiB of mixed memory: zero, random, repetitive, sparse

// coldCaches forgets Cannon's page hashes, so each Write hashes every page
// as it would for a state that was never merkleized.
func coldCaches(vs *versions.VersionedState) {
	mt(vs).Memory.ForEachPage(func(idx uint64, _ memory.Page) error {
		p, _ := mt(vs).Memory.PageLookup(idx)
		p.InvalidateFull()
		return nil
	})
}

// ab times a and b alternately, so machine drift hits both alike, and
// reports each one's rate and b's time over a's.
func ab(bench *testing.B, bytes float64, aName string, a func(), bName string, b func()) {
	var ta, tb time.Duration
	n := 0
	for bench.Loop() {
		t0 := time.Now()
		a()
		ta += time.Since(t0)
		t0 = time.Now()
		b()
		tb += time.Since(t0)
		n++
	}
	mib := bytes / (1 << 20) * float64(n)
	bench.ReportMetric(mib/ta.Seconds(), aName+"-MiB/s")
	bench.ReportMetric(mib/tb.Seconds(), bName+"-MiB/s")
	bench.ReportMetric(tb.Seconds()/ta.Seconds(), bName+"/"+aName)
}

// BenchmarkWrite compares Write (page hashes, claim, zstd, fsync) with
// Cannon's .bin.gz writer (one gzip stream, no claim) on the same state:
// cold, where every page must be hashed, and warm, where Cannon's page
// caches already hold the roots (a state that was just merkleized).
func BenchmarkWrite(b *testing.B) {
	for _, warm := range []bool{false, true} {
		name := map[bool]string{false: "cold", true: "warm"}[warm]
		b.Run(name, func(b *testing.B) {
			vs := testState(1, benchPages)
			dir := b.TempDir()
			snap, gz := filepath.Join(dir, "s.snap"), filepath.Join(dir, "s.bin.gz")
			if warm {
				mt(vs).EncodeWitness()
			}
			ab(b, benchPages*PageSize,
				"proofd", func() {
					if !warm {
						coldCaches(vs)
					}
					if err := Write(snap, vs, Options{}); err != nil {
						b.Fatal(err)
					}
				},
				"cannon-gz", func() {
					if err := serialize.Write(gz, vs, 0o644); err != nil {
						b.Fatal(err)
					}
				})
			b.ReportMetric(float64(fileSize(b, snap))/(1<<20), "proofd-MiB")
			b.ReportMetric(float64(fileSize(b, gz))/(1<<20), "cannon-gz-MiB")
		})
	}
}

func fileSize(b *testing.B, path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	return fi.Size()
}

// BenchmarkClaim compares reading the claim from a snapshot's header with
// what Cannon needs for it: load the .bin.gz and merkleize memory.
func BenchmarkClaim(b *testing.B) {
	vs := testState(1, benchPages)
	dir := b.TempDir()
	snap := writeSnapshot(b, dir, vs, Options{})
	gz := cannonFile(b, dir, "s.bin.gz", vs)
	ab(b, benchPages*PageSize,
		"proofd", func() {
			if _, err := ReadInfo(snap); err != nil {
				b.Fatal(err)
			}
		},
		"cannon-gz", func() {
			st, err := versions.LoadStateFromFile(gz)
			if err != nil {
				b.Fatal(err)
			}
			st.EncodeWitness()
		})
}

// BenchmarkLoad compares Load with Cannon's .bin.gz loader.
func BenchmarkLoad(b *testing.B) {
	vs := testState(1, benchPages)
	dir := b.TempDir()
	snap := writeSnapshot(b, dir, vs, Options{})
	gz := cannonFile(b, dir, "s.bin.gz", vs)
	ab(b, benchPages*PageSize,
		"proofd", func() {
			if _, err := Load(snap, Options{}); err != nil {
				b.Fatal(err)
			}
		},
		"cannon-gz", func() {
			if _, err := versions.LoadStateFromFile(gz); err != nil {
				b.Fatal(err)
			}
		})
}

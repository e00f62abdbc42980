package bbengine

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/bb/bbtest"
	"github.com/proofd/proofd/engine"
	"github.com/proofd/proofd/engine/enginetest"
	"github.com/proofd/proofd/proto/enginev1"
)

func TestMain(m *testing.M) { enginetest.Main(m) }

// inProcess serves a bb engine inside the test process.
func inProcess(t *testing.T) (*engine.Conn, enginev1.NoirClient) {
	t.Helper()
	e, err := New(nil, Options{BB: bbtest.BB(t), Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Stop() })
	c := enginetest.InProcess(t, e.Config())
	return c, enginev1.NewNoirClient(c.Raw())
}

func upload(t *testing.T, c *engine.Conn, kind string, b []byte) []byte {
	t.Helper()
	a := artifact.New(b)
	if err := c.Upload(context.Background(), kind, a); err != nil {
		t.Fatal(err)
	}
	return a.Digest[:]
}

func TestProveVerifyRoundTrip(t *testing.T) {
	c, noir := inProcess(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fx := bbtest.Load(t, "tiny")
	circuit := upload(t, c, "circuit", fx.ACIR)
	st, err := noir.Stats(ctx, &enginev1.NoirStatsRequest{Circuit: circuit})
	if err != nil || st.Gates == 0 || st.DyadicSize < st.Gates {
		t.Fatalf("stats: %v %v", st, err)
	}
	p, err := noir.Prove(ctx, &enginev1.NoirProveRequest{Circuit: circuit, Witness: fx.Witness})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Proof) == 0 || len(p.Proof)%32 != 0 || len(p.Timings) == 0 {
		t.Fatalf("prove: %d proof bytes, timings %v", len(p.Proof), p.Timings)
	}
	v, err := noir.Verify(ctx, &enginev1.NoirVerifyRequest{Vk: p.Vk, Proof: p.Proof, PublicInputs: p.PublicInputs})
	if err != nil || !v.Valid {
		t.Fatalf("verify: %v %v", v, err)
	}
	bad := append([]byte(nil), p.Proof...)
	bad[len(bad)-1] ^= 1
	if v, err := noir.Verify(ctx, &enginev1.NoirVerifyRequest{Vk: p.Vk, Proof: bad, PublicInputs: p.PublicInputs}); err != nil || v.Valid {
		t.Fatalf("a tampered proof: %v %v", v, err)
	}
	vk, err := noir.Vk(ctx, &enginev1.NoirVkRequest{Circuit: circuit})
	if err != nil || string(vk.Vk) != string(p.Vk) {
		t.Fatalf("vk: %v (prove's %x)", err, p.Vk)
	}
}

func TestNewRemovesTheCRSOfEnginesThatAreGone(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	// A process that has exited: its pid names a stale directory.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(tmp, fmt.Sprintf("%s%d-x", crsDirPrefix, cmd.Process.Pid))
	live := filepath.Join(tmp, fmt.Sprintf("%s%d-y", crsDirPrefix, os.Getpid()))
	for _, d := range []string{stale, live} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	e, err := New(nil, Options{BB: bbtest.BB(t), Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Stop()
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the CRS directory of a gone engine is still there: %v", err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("the CRS directory of a live process was removed: %v", err)
	}
}

package bbengine

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/bb/bbtest"
	"github.com/proofd/proofd/engine"
	"github.com/proofd/proofd/engine/pool"
	"github.com/proofd/proofd/proto/enginev1"
)

// crsDirs lists the bb CRS copies engines made under tmp.
func crsDirs(t *testing.T, tmp string) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(tmp, "proofd-bb-crs-*"))
	if err != nil {
		t.Fatal(err)
	}
	return dirs
}

// waitExited fails the test unless the spawned engine exits within a
// generous deadline.
func waitExited(t *testing.T, c *engine.Conn) {
	t.Helper()
	select {
	case <-c.Exited():
	case <-time.After(10 * time.Second):
		t.Fatalf("engine pid %d still running 10 s after its bb died", c.Pid())
	}
}

// SIGKILL of bb during a prove: that call fails UNAVAILABLE (retryable),
// the engine process exits non-zero saying why, removes its CRS copy, and
// the next call fails too.
func TestEngineDiesWithBB(t *testing.T) {
	tmp := t.TempDir()
	ctx := ctxT(t)
	c, err := engine.Spawn(ctx, spawnOptionsIn(t, tmp))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	noir := enginev1.NewNoirClient(c.Raw())
	hashchain := bbtest.Load(t, "hashchain") // seconds to prove on one thread
	circuit := upload(t, c, "circuit", hashchain.ACIR)
	bb := mustBBChild(t, c)
	if n := len(crsDirs(t, tmp)); n != 1 {
		t.Fatalf("%d CRS directories under the engine's TMPDIR, want 1", n)
	}

	// Whether the kill lands in Stats or in the prove itself, the call
	// is out when bb dies.
	killed := make(chan time.Time, 1)
	kill := time.AfterFunc(200*time.Millisecond, func() { killed <- time.Now(); syscall.Kill(bb, syscall.SIGKILL) })
	defer kill.Stop()
	_, err = noir.Prove(ctx, &enginev1.NoirProveRequest{Circuit: circuit, Witness: hashchain.Witness})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("prove while bb is killed: %v, want UNAVAILABLE", err)
	}
	if ferr := engine.FromStatus(ctx, "prove", err); !engine.IsRetryable(ferr) {
		t.Errorf("FromStatus(%v) is not retryable: a pool would not try another engine", err)
	}
	t.Logf("the call in flight: %v", err)

	waitExited(t, c)
	t.Logf("the engine exited %v after bb was killed", time.Since(<-killed).Round(time.Millisecond))
	if _, err := noir.Stats(ctx, &enginev1.NoirStatsRequest{Circuit: circuit}); err == nil {
		t.Error("a call after the engine exited succeeded")
	}
	err = c.Close()
	if !errors.Is(err, engine.ErrEngineExited) || !strings.Contains(err.Error(), "exit status") || !strings.Contains(err.Error(), "bb exited") {
		t.Errorf("Close: %v, want the engine's non-zero exit saying bb exited", err)
	}
	if dirs := crsDirs(t, tmp); len(dirs) != 0 {
		t.Errorf("the engine left its CRS copy: %v", dirs)
	}
}

// SIGKILL of the engine alone (not its process group: bb has its own)
// leaves no bb: bb's parent-death signal kills it. The engine cannot
// remove its CRS copy; it is left in TMPDIR.
func TestKilledEngineLeavesNoBB(t *testing.T) {
	tmp := t.TempDir()
	c, err := engine.Spawn(ctxT(t), spawnOptionsIn(t, tmp))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Health(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	bb := mustBBChild(t, c)
	if pgid, err := syscall.Getpgid(bb); err != nil || pgid == c.Pid() {
		t.Fatalf("bb's process group %d (%v): bb shares the engine's, so this test would not test Pdeathsig", pgid, err)
	}
	sigkill(t, c.Pid())
	waitGone(t, bb, "bb after its engine was killed")
	waitExited(t, c)
	t.Logf("CRS copies left by the killed engine: %d", len(crsDirs(t, tmp)))
}

// proofOf proves tiny on a spawned engine and returns what a verification
// needs: the vk bytes, the proof and the public inputs.
func proofOf(t *testing.T) (vk, proof, public []byte) {
	t.Helper()
	c := spawn(t)
	noir := enginev1.NewNoirClient(c.Raw())
	tiny := bbtest.Load(t, "tiny")
	circuit := upload(t, c, "circuit", tiny.ACIR)
	p, err := noir.Prove(ctxT(t), &enginev1.NoirProveRequest{Circuit: circuit, Witness: tiny.Witness})
	if err != nil {
		t.Fatal(err)
	}
	k, err := noir.Vk(ctxT(t), &enginev1.NoirVkRequest{Circuit: circuit})
	if err != nil {
		t.Fatal(err)
	}
	return k.VkBytes, p.Proof, p.PublicInputs
}

// verifyOn uploads the vk (an engine that replaced a dead one holds
// nothing) and verifies on c; errors come back as engine errors, so that a
// pool sees a death as retryable.
func verifyOn(ctx context.Context, c *engine.Conn, vk artifact.Artifact, proof, public []byte) (bool, error) {
	if err := c.Upload(ctx, "vk", vk); err != nil {
		return false, err
	}
	v, err := enginev1.NewNoirClient(c.Raw()).Verify(ctx, &enginev1.NoirVerifyRequest{Vk: vk.Digest[:], Proof: proof, PublicInputs: public})
	if err != nil {
		return false, engine.FromStatus(ctx, "verify", err)
	}
	return v.Valid, nil
}

// poolOf is a pool of spawned bb engines, closed when the test ends.
func poolOf(t *testing.T, cfg pool.Config) *pool.Factory {
	t.Helper()
	opts := spawnOptionsIn(t, t.TempDir())
	cfg.Start = func(ctx context.Context) (*engine.Conn, error) { return engine.Spawn(ctx, opts) }
	f, err := pool.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := f.Close(ctx); err != nil {
			t.Errorf("close pool: %v", err)
		}
	})
	return f
}

// waitRespawned waits until every slot of the pool holds a live, idle
// engine, none of them one in dead.
func waitRespawned(t *testing.T, f *pool.Factory, dead ...int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		ok := true
		for i, pid := range f.Pids() {
			if pid == 0 || gone(pid) || slices.Contains(dead, pid) || f.Engines()[i].State != "idle" {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pool not respawned 30 s on: pids %v, engines %+v", f.Pids(), f.Engines())
		}
	}
}

// The bb of the engine a call is leased is killed before the call: the
// call fails as a death, the pool retries it on the other engine, where it
// succeeds, and the dead engine is replaced.
func TestPoolRetriesBBDeath(t *testing.T) {
	vkBytes, proof, public := proofOf(t)
	vk := artifact.New(vkBytes)
	f := poolOf(t, pool.Config{PoolSize: 2})
	ctx := ctxT(t)
	var pids []int
	var attemptErrs []error
	err := f.Do(ctx, nil, func(c *engine.Conn) error {
		pids = append(pids, c.Pid())
		if len(pids) == 1 {
			bb := mustBBChild(t, c)
			sigkill(t, bb)
			waitGone(t, bb, "killed bb")
		}
		valid, err := verifyOn(ctx, c, vk, proof, public)
		if err == nil && !valid {
			err = errors.New("a valid proof was judged invalid")
		}
		attemptErrs = append(attemptErrs, err)
		return err
	})
	if err != nil {
		t.Fatalf("Do: %v (attempts on engines %v: %v)", err, pids, attemptErrs)
	}
	if len(pids) != 2 || pids[0] == pids[1] {
		t.Fatalf("attempts on engines %v, want two: the killed one, then the other", pids)
	}
	if !engine.IsRetryable(attemptErrs[0]) {
		t.Errorf("the attempt on the engine whose bb died: %v, want a retryable error", attemptErrs[0])
	}
	t.Logf("attempt on the dying engine: %v", attemptErrs[0])
	waitRespawned(t, f, pids[0])
	for range 4 { // both engines, the replacement included, serve
		if err := f.Do(ctx, nil, func(c *engine.Conn) error {
			valid, err := verifyOn(ctx, c, vk, proof, public)
			if err == nil && !valid {
				err = errors.New("a valid proof was judged invalid")
			}
			return err
		}); err != nil {
			t.Fatalf("after the respawn: %v", err)
		}
	}
}

// A pool of three bb engines answers every verification correctly while a
// goroutine SIGKILLs a random engine, or its bb, every 300 ms: deaths are
// retried on other engines, never answered wrongly, and dead engines are
// respawned.
func TestPoolUnderRandomKills(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: kills engines for several seconds")
	}
	vkBytes, proof, public := proofOf(t)
	vk := artifact.New(vkBytes)
	tampered := bytes.Clone(proof)
	tampered[len(tampered)-1] ^= 1

	var respawns, deaths, failedAttempts atomic.Int64
	f := poolOf(t, pool.Config{
		PoolSize: 3,
		// Every death of an engine under a call is retried: with an engine
		// killed every 300 ms a call may meet several. The test asserts
		// none was given up on.
		DeathRetries: 20,
		Hooks: pool.Hooks{
			Respawned: func() { respawns.Add(1) },
			Died:      func(string) { deaths.Add(1) },
			Call: func(_ time.Duration, err error) {
				if err != nil {
					failedAttempts.Add(1)
				}
			},
		},
	})
	ctx := ctxT(t)
	if err := f.Do(ctx, nil, func(*engine.Conn) error { return nil }); err != nil {
		t.Fatal(err) // the pool is up before the killing starts
	}

	const wantKills = 12
	var kills atomic.Int64
	stop := make(chan struct{})
	killerDone := make(chan struct{})
	go func() {
		defer close(killerDone)
		tick := time.NewTicker(300 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			var live []int
			for _, pid := range f.Pids() {
				if pid != 0 && !gone(pid) {
					live = append(live, pid)
				}
			}
			if len(live) == 0 {
				continue
			}
			victim := live[rand.IntN(len(live))]
			if rand.IntN(2) == 0 {
				if bb, err := bbChild(victim); err == nil {
					victim = bb
				}
			}
			if syscall.Kill(victim, syscall.SIGKILL) == nil {
				kills.Add(1)
			}
		}
	}()

	// Workers verify, one tampered proof in four, until the killer has
	// killed wantKills times and at least 80 verifications are done.
	var calls, wrong, errs atomic.Int64
	var mu sync.Mutex
	var firstErrs []error
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; kills.Load() < wantKills || calls.Load() < 80; i += 4 {
				valid := i%4 != 0
				p := proof
				if !valid {
					p = tampered
				}
				var got bool
				err := f.Do(ctx, []artifact.Digest{vk.Digest}, func(c *engine.Conn) (err error) {
					got, err = verifyOn(ctx, c, vk, p, public)
					return err
				})
				calls.Add(1)
				switch {
				case err != nil:
					errs.Add(1)
					mu.Lock()
					if len(firstErrs) < 5 {
						firstErrs = append(firstErrs, err)
					}
					mu.Unlock()
				case got != valid:
					wrong.Add(1)
				}
				if ctx.Err() != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-killerDone
	t.Logf("%d verifications, %d kills, %d deaths seen by the pool, %d respawns, %d attempts failed and retried",
		calls.Load(), kills.Load(), deaths.Load(), respawns.Load(), failedAttempts.Load())
	if errs.Load() != 0 || wrong.Load() != 0 {
		t.Fatalf("%d of %d verifications failed (first: %v), %d answered wrongly", errs.Load(), calls.Load(), firstErrs, wrong.Load())
	}
	if respawns.Load() == 0 {
		t.Error("no engine was respawned")
	}
	waitRespawned(t, f)
}

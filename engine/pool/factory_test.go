package pool_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/backend/groth16"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/engine"
	"github.com/proofd/proofd/engine/enginetest"
	"github.com/proofd/proofd/engine/pool"
	"github.com/proofd/proofd/engine/snarkclient"
	"github.com/proofd/proofd/examples/circuits"
)

func proofdStart(t testing.TB) func(ctx context.Context) (*engine.Conn, error) {
	bin := enginetest.Proofd(t)
	return func(ctx context.Context) (*engine.Conn, error) {
		return engine.Spawn(ctx, engine.SpawnOptions{Path: bin, Args: []string{"engine", "serve", "--exit-on-stdin-eof"}})
	}
}

type counters struct {
	starts, startFailures, deaths, respawns atomic.Int32
}

func (c *counters) hooks() pool.Hooks {
	return pool.Hooks{
		Started: func(_ time.Duration, err error) {
			c.starts.Add(1)
			if err != nil {
				c.startFailures.Add(1)
			}
		},
		Died:      func(string) { c.deaths.Add(1) },
		Respawned: func() { c.respawns.Add(1) },
	}
}

func newFactory(t *testing.T, cfg pool.Config) *pool.Factory {
	t.Helper()
	if cfg.Start == nil {
		cfg.Start = proofdStart(t)
	}
	f, err := pool.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Close(context.Background()); err != nil {
			t.Errorf("close factory: %v", err)
		}
	})
	return f
}

func TestFreshFactory(t *testing.T) {
	f := newFactory(t, pool.Config{})
	seen := map[int]bool{}
	for range 3 {
		l, err := f.Get(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		seen[l.Pid()] = true
		exited := l.Exited()
		l.Release()
		l.Release() // harmless
		<-exited
	}
	if len(seen) != 3 {
		t.Fatalf("3 fresh Gets used %d engines", len(seen))
	}
}

func TestPoolLazySharedStart(t *testing.T) {
	var c counters
	f := newFactory(t, pool.Config{PoolSize: 2, Hooks: c.hooks()})
	if kids, _ := enginetest.Children(); len(kids) != 0 {
		t.Fatalf("a pool started engines before its first Get: %v", kids)
	}
	var mu sync.Mutex
	pids := map[int]bool{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := f.Get(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			defer l.Release()
			if _, err := l.Health(context.Background()); err != nil {
				t.Error(err)
			}
			mu.Lock()
			pids[l.Pid()] = true
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(pids) != 2 || c.starts.Load() != 2 {
		t.Fatalf("8 concurrent first callers: %d engines used, %d started; want 2 and 2", len(pids), c.starts.Load())
	}
}

func TestPoolGetHonoursContext(t *testing.T) {
	f := newFactory(t, pool.Config{PoolSize: 1})
	l, err := f.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := f.Get(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get with all engines busy: got %v, want DeadlineExceeded", err)
	}
	l.Release()
	l2, err := f.Get(context.Background())
	if err != nil {
		t.Fatalf("Get after release: %v", err)
	}
	l2.Release()
}

func TestPoolRespawnsDeadEngine(t *testing.T) {
	var c counters
	f := newFactory(t, pool.Config{PoolSize: 1, Hooks: c.hooks()})
	l, err := f.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	first := l.Pid()
	l.Release()
	syscall.Kill(first, syscall.SIGKILL)
	l, err = f.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if l.Pid() == first {
		// The death may not have been noticed yet; the engine is gone, so
		// a call must fail retryably, and the next Get must replace it.
		if _, err := l.Health(context.Background()); !engine.IsRetryable(err) {
			t.Fatalf("call on a killed engine: %v", err)
		}
		l.MarkDead()
		l.Release()
		if l, err = f.Get(context.Background()); err != nil {
			t.Fatal(err)
		}
		defer l.Release()
	}
	if l.Pid() == first {
		t.Fatal("the dead engine was handed out again")
	}
	if _, err := l.Health(context.Background()); err != nil {
		t.Fatalf("replacement engine: %v", err)
	}
	if c.deaths.Load() < 1 || c.respawns.Load() < 1 {
		t.Fatalf("hooks saw %d deaths, %d respawns", c.deaths.Load(), c.respawns.Load())
	}
}

func TestPoolStartFailureIsNotSticky(t *testing.T) {
	start := proofdStart(t)
	var calls atomic.Int32
	f := newFactory(t, pool.Config{PoolSize: 3, Start: func(ctx context.Context) (*engine.Conn, error) {
		if calls.Add(1) == 2 {
			return engine.Spawn(ctx, engine.SpawnOptions{Path: "/bin/sh", Args: []string{"-c", "exit 7"}})
		}
		return start(ctx)
	}})
	_, err := f.Get(context.Background())
	if err == nil || !strings.Contains(err.Error(), "exit status 7") {
		t.Fatalf("pool start with a failing engine: got %v", err)
	}
	if err := enginetest.CheckNoChildren(); err != nil {
		t.Fatalf("engines that started were not stopped: %v", err)
	}
	l, err := f.Get(context.Background())
	if err != nil {
		t.Fatalf("second Get after a failed start: %v", err)
	}
	l.Release()
}

func TestPoolMissingBinaryFailsFast(t *testing.T) {
	f := newFactory(t, pool.Config{PoolSize: 2, Start: func(ctx context.Context) (*engine.Conn, error) {
		return engine.Spawn(ctx, engine.SpawnOptions{Path: "/nonexistent/engine"})
	}})
	calls := 0
	err := f.Do(context.Background(), nil, func(*engine.Conn) error { calls++; return nil })
	if !errors.Is(err, engine.ErrEngineNotFound) || engine.IsRetryable(err) || calls != 0 {
		t.Fatalf("Do with a missing binary: %v (calls %d)", err, calls)
	}
}

func TestCloseFailsWaiters(t *testing.T) {
	f, err := pool.New(pool.Config{PoolSize: 1, Start: proofdStart(t)})
	if err != nil {
		t.Fatal(err)
	}
	l, err := f.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	waiter := make(chan error)
	go func() {
		_, err := f.Get(context.Background())
		waiter <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if err := f.Close(context.Background()); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := <-waiter; !errors.Is(err, pool.ErrClosed) {
		t.Fatalf("waiter got %v, want ErrClosed", err)
	}
	l.Release() // after Close: harmless
	if _, err := f.Get(context.Background()); !errors.Is(err, pool.ErrClosed) {
		t.Fatalf("Get after Close: %v", err)
	}
}

func TestCloseJoinsTeardownErrors(t *testing.T) {
	f, err := pool.New(pool.Config{Start: proofdStart(t)})
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for range 2 {
		l, err := f.Get(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, l.Pid())
		syscall.Kill(l.Pid(), syscall.SIGKILL) // dies by another hand than the factory's
		<-l.Exited()
	}
	err = f.Close(context.Background())
	for _, pid := range pids {
		if err == nil || !strings.Contains(err.Error(), strconv.Itoa(pid)) {
			t.Fatalf("Close error %v does not report engine %d", err, pid)
		}
	}
}

// verifyFixture is a small Groth16 proof and the bytes an engine checks it with.
type verifyFixture struct {
	vk            artifact.Artifact
	proof, public []byte
}

func newVerifyFixture(t testing.TB, size int) verifyFixture {
	ex, err := circuits.Build("mimc", size, ecc.BN254, snarkclient.Groth16)
	if err != nil {
		t.Fatal(err)
	}
	pk, vk, err := groth16.Setup(ex.CCS)
	if err != nil {
		t.Fatal(err)
	}
	proof, err := groth16.Prove(ex.CCS, pk, ex.Witness)
	if err != nil {
		t.Fatal(err)
	}
	var vkb, pb bytes.Buffer
	vk.WriteTo(&vkb)
	proof.WriteTo(&pb)
	pub, _ := ex.Public.MarshalBinary()
	return verifyFixture{vk: artifact.New(vkb.Bytes()), proof: pb.Bytes(), public: pub}
}

func (fx verifyFixture) verify(ctx context.Context, c *engine.Conn) error {
	res, err := snarkclient.New(c).Verify(ctx, snarkclient.VerifyRequest{VK: fx.vk, Proof: fx.proof, Public: fx.public})
	if err != nil {
		return err
	}
	if !res.Valid {
		return fmt.Errorf("wrong answer: valid proof judged invalid: %s", res.Reason)
	}
	return nil
}

func TestDoRetriesEngineDeathWithoutSpendingRetries(t *testing.T) {
	fx := newVerifyFixture(t, 2)
	f := newFactory(t, pool.Config{PoolSize: 2, Retries: pool.NoRetries, DeathRetries: 3})
	attempts := 0
	err := f.Do(context.Background(), []artifact.Digest{fx.vk.Digest}, func(c *engine.Conn) error {
		attempts++
		if attempts <= 3 {
			syscall.Kill(c.Pid(), syscall.SIGKILL)
			<-c.Exited()
		}
		return fx.verify(context.Background(), c)
	})
	if err != nil || attempts != 4 {
		t.Fatalf("Do after 3 engine deaths: %v after %d attempts", err, attempts)
	}
}

func TestDoDoesNotRetryBadInput(t *testing.T) {
	fx := newVerifyFixture(t, 2)
	f := newFactory(t, pool.Config{PoolSize: 1})
	attempts := 0
	err := f.Do(context.Background(), nil, func(c *engine.Conn) error {
		attempts++
		_, err := snarkclient.New(c).Verify(context.Background(), snarkclient.VerifyRequest{VK: artifact.New(fx.vk.Data[:20]), Proof: fx.proof, Public: fx.public})
		return err
	})
	var ie *engine.InputError
	if !errors.As(err, &ie) || attempts != 1 {
		t.Fatalf("bad input: %v after %d attempts, want an InputError after 1", err, attempts)
	}
}

// TestParentDeathKillsEngines: a process that owns a pool is killed with
// SIGKILL; its engines must not survive it.
func TestParentDeathKillsEngines(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperPoolOwner$", "-test.v")
	cmd.Env = append(os.Environ(), "PROOFD_TEST_POOL_OWNER="+enginetest.Proofd(t))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pids []int
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "ENGINES "); ok {
			for _, f := range strings.Fields(rest) {
				pid, _ := strconv.Atoi(f)
				pids = append(pids, pid)
			}
			break
		}
	}
	if len(pids) != 3 {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper reported engines %v, want 3", pids)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for _, pid := range pids {
		for alive(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("engine %d outlived its parent", pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// alive reports whether pid runs (a zombie does not count: it is dead and
// waits for its new parent to reap it).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}

func TestHelperPoolOwner(t *testing.T) {
	bin := os.Getenv("PROOFD_TEST_POOL_OWNER")
	if bin == "" {
		t.Skip("helper process for TestParentDeathKillsEngines")
	}
	f, err := pool.New(pool.Config{PoolSize: 3, Start: func(ctx context.Context) (*engine.Conn, error) {
		return engine.Spawn(ctx, engine.SpawnOptions{Path: bin, Args: []string{"engine", "serve", "--exit-on-stdin-eof"}})
	}})
	if err != nil {
		t.Fatal(err)
	}
	var leases []*pool.Lease
	for range 3 {
		l, err := f.Get(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		leases = append(leases, l)
	}
	fmt.Printf("ENGINES %d %d %d\n", leases[0].Pid(), leases[1].Pid(), leases[2].Pid())
	time.Sleep(time.Minute) // until SIGKILL
}

// TestStressFreshStarts: hundreds of engine starts under contention never
// fail (the seed's bind→listen race cannot happen).
func TestStressFreshStarts(t *testing.T) {
	if testing.Short() {
		t.Skip("500 process starts")
	}
	var c counters
	f := newFactory(t, pool.Config{Hooks: c.hooks()})
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	var failures atomic.Int32
	for range 500 {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			l, err := f.Get(context.Background())
			if err != nil {
				failures.Add(1)
				t.Error(err)
				return
			}
			if _, err := l.Health(context.Background()); err != nil {
				failures.Add(1)
				t.Error(err)
			}
			l.Release()
		}()
	}
	wg.Wait()
	if failures.Load() != 0 || c.startFailures.Load() != 0 || c.starts.Load() != 500 {
		t.Fatalf("500 starts: %d failures, %d start failures, %d starts", failures.Load(), c.startFailures.Load(), c.starts.Load())
	}
}

// TestChaosPoolVerifications: 1000 verifications through a pool while its
// engines are killed with SIGKILL at random. Every call ends with the right
// answer (the retries after engine deaths resolve it) and nothing leaks.
func TestChaosPoolVerifications(t *testing.T) {
	if testing.Short() {
		t.Skip("1000 verifications under SIGKILL")
	}
	fx := newVerifyFixture(t, 2)
	var c counters
	f := newFactory(t, pool.Config{PoolSize: 3, DeathRetries: 50, Hooks: c.hooks()})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	stop := make(chan struct{})
	var kills atomic.Int32
	var killer sync.WaitGroup
	killer.Add(1)
	go func() {
		defer killer.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(20+rand.IntN(60)) * time.Millisecond):
			}
			pids := f.Pids()
			if pid := pids[rand.IntN(len(pids))]; pid > 0 && syscall.Kill(pid, syscall.SIGKILL) == nil {
				kills.Add(1)
			}
		}
	}()
	var wg sync.WaitGroup
	var wrong atomic.Int32
	jobs := make(chan int)
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				err := f.Do(ctx, []artifact.Digest{fx.vk.Digest}, func(c *engine.Conn) error { return fx.verify(ctx, c) })
				if err != nil {
					wrong.Add(1)
					t.Error(err)
				}
			}
		}()
	}
	for i := range 1000 {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	close(stop)
	killer.Wait()
	if wrong.Load() != 0 {
		t.Fatalf("%d of 1000 verifications failed", wrong.Load())
	}
	if kills.Load() < 10 {
		t.Fatalf("only %d engines killed: the test did not test much", kills.Load())
	}
	t.Logf("1000 verifications, %d engines killed, %d deaths seen, %d respawns", kills.Load(), c.deaths.Load(), c.respawns.Load())
}

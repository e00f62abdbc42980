package natsq

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/artifact/artcache"
	"github.com/proofd/proofd/engine"
	"github.com/proofd/proofd/engine/devcert"
	"github.com/proofd/proofd/engine/host"
	"github.com/proofd/proofd/engine/pool"
	"github.com/proofd/proofd/engine/snarkclient"
	"github.com/proofd/proofd/examples/circuits"
	"github.com/proofd/proofd/queue"
	"github.com/proofd/proofd/queue/natsq/natsserver"
	"github.com/proofd/proofd/snark"
)

func startServer(t *testing.T, o natsserver.Options) *natsserver.Server {
	t.Helper()
	s, err := natsserver.Start(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

func connect(t *testing.T, url string) *nats.Conn {
	t.Helper()
	nc, err := ConnConfig{URL: url, Name: t.Name()}.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func newClient(t *testing.T, nc *nats.Conn, hooks ClientHooks) *Client {
	t.Helper()
	c, err := NewClient(t.Context(), nc, ClientConfig{Node: "n1", Hooks: hooks})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// fakeEngines answer jobs by a function, counting runs: the queue's own
// behaviour (redelivery, dedup, poison) is what these tests look at.
type fakeEngines struct {
	runs  atomic.Int32
	prove func(ctx context.Context, j queue.Prove) (*queue.Proved, error)
}

func (f *fakeEngines) Prove(ctx context.Context, j queue.Prove) (*queue.Proved, error) {
	f.runs.Add(1)
	if f.prove != nil {
		return f.prove(ctx, j)
	}
	return &queue.Proved{Proof: []byte("proof of " + j.ID), Public: j.Witness}, nil
}

func (f *fakeEngines) Verify(ctx context.Context, j queue.Verify) (*engine.VerifyResult, error) {
	f.runs.Add(1)
	return &engine.VerifyResult{Valid: bytes.Equal(j.Proof, []byte("good"))}, nil
}

type runningWorker struct {
	nc    *nats.Conn
	cache *artcache.Cache
	stop  context.CancelFunc
	done  chan error
	dones atomic.Int32 // jobs answered and acked
	redel atomic.Int32 // ... of which were redeliveries
}

// worker runs RunWorker on its own connection until the test ends or kill.
func startWorker(t *testing.T, url string, eng Engines, cfg WorkerConfig) *runningWorker {
	t.Helper()
	w := &runningWorker{nc: connect(t, url), done: make(chan error, 1)}
	var err error
	if w.cache, err = artcache.Open(artcache.Options{Dir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	if cfg.Name == "" {
		cfg.Name = "w-" + t.Name()
	}
	cfg.Engines, cfg.Cache = eng, w.cache
	cfg.Hooks.Done = func(class, outcome string, redelivered bool, took time.Duration) {
		w.dones.Add(1)
		if redelivered {
			w.redel.Add(1)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.stop = cancel
	go func() { w.done <- RunWorker(ctx, w.nc, cfg) }()
	t.Cleanup(func() { w.stop(); <-w.done })
	return w
}

// kill is a worker's death as its peers see it: its connection is gone
// without a word, its jobs unanswered.
func (w *runningWorker) kill() { w.nc.Close() }

func proveJob(id string, arts ...artifact.Artifact) queue.Prove {
	return queue.Prove{ID: id, Attempt: 1, Name: "test", CCS: arts[0], PK: arts[1], Witness: []byte("w")}
}

func testArtifacts() []artifact.Artifact {
	return []artifact.Artifact{artifact.New([]byte("circuit bytes")), artifact.New([]byte("proving key bytes"))}
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// Real gnark proofs through JetStream: the artifacts travel once, a second
// call of the same job is answered by the kept result without a second run.
func TestProveAndVerifyOnAWorker(t *testing.T) {
	srv := startServer(t, natsserver.Options{})
	f, err := pool.New(pool.Config{PoolSize: 1, Start: func(ctx context.Context) (*engine.Conn, error) {
		s, err := host.NewServer(snark.Config(nil))
		if err != nil {
			return nil, err
		}
		return engine.InProcess(ctx, s.ServeInProcess())
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close(context.Background()) })
	ccs, pk, vk, wit := mimc(t, f)

	eng := &countingEngines{Engines: queue.Local{Pool: f}}
	w := startWorker(t, srv.URL(), eng, WorkerConfig{AckWait: 5 * time.Second})
	var late atomic.Int32
	c := newClient(t, connect(t, srv.URL()), ClientHooks{Late: func(queue.Result) { late.Add(1) }})
	ctx := ctxFor(t, time.Minute)
	// The node's artifacts carry bytes; the worker holds none yet.
	job := queue.Prove{ID: "aa01", Attempt: 1, Name: "mimc", CCS: ccs, PK: pk, VK: &vk, Witness: wit}
	res, err := c.Prove(ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.Verify(ctx, queue.Verify{Name: "mimc", VK: vk, Proof: res.Proof, Public: res.Public})
	if err != nil || !v.Valid {
		t.Fatalf("verify the worker's proof: %v %+v", err, v)
	}
	tampered := bytes.Clone(res.Proof)
	tampered[len(tampered)/2] ^= 1
	if v, err := c.Verify(ctx, queue.Verify{Name: "mimc", VK: vk, Proof: tampered, Public: res.Public}); err == nil && v.Valid {
		t.Fatal("a tampered proof verified")
	}
	if st := w.cache.Stats(); st.Fetches != 3 {
		t.Fatalf("the worker fetched %d artifacts, want 3 (ccs, pk, vk once each): %+v", st.Fetches, st)
	}
	again, err := c.Prove(ctx, job)
	if err != nil || !bytes.Equal(again.Proof, res.Proof) {
		t.Fatalf("the same job again: %v", err)
	}
	if eng.runs.Load() != 3 {
		t.Fatalf("%d engine runs, want 3: the repeated job must be answered by its kept result", eng.runs.Load())
	}
	eventually(t, func() bool { return w.dones.Load() == 3 })
}

type countingEngines struct {
	Engines
	runs atomic.Int32
}

func (c *countingEngines) Prove(ctx context.Context, j queue.Prove) (*queue.Proved, error) {
	c.runs.Add(1)
	return c.Engines.Prove(ctx, j)
}

func (c *countingEngines) Verify(ctx context.Context, j queue.Verify) (*engine.VerifyResult, error) {
	c.runs.Add(1)
	return c.Engines.Verify(ctx, j)
}

// eventually waits up to 5 s for cond: hooks run after a result is
// published, so a test that has the result may be ahead of them.
func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5 s")
		}
	}
}

// mimc makes a small real circuit, its keys (on f) and a witness.
func mimc(t *testing.T, f *pool.Factory) (ccs, pk, vk artifact.Artifact, wit []byte) {
	t.Helper()
	ex, err := circuits.Build("mimc", 4, ecc.BN254, snarkclient.Groth16)
	if err != nil {
		t.Fatal(err)
	}
	var cb, wb bytes.Buffer
	if _, err := ex.CCS.WriteTo(&cb); err != nil {
		t.Fatal(err)
	}
	if _, err := ex.Witness.WriteTo(&wb); err != nil {
		t.Fatal(err)
	}
	ccs = artifact.New(cb.Bytes())
	err = f.Do(t.Context(), nil, func(c *engine.Conn) error {
		keys, err := snarkclient.New(c).Setup(t.Context(), snarkclient.SetupRequest{CCS: ccs, Scheme: snarkclient.Groth16})
		if err == nil {
			pk, vk = keys.PK, keys.VK
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ccs, pk, vk, wb.Bytes()
}

// A worker that dies mid-proof loses its job to another after AckWait; the
// job keeps its attempt and is answered once.
func TestDeadWorkersJobMovesToAnother(t *testing.T) {
	srv := startServer(t, natsserver.Options{})
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	defer close(release)
	stuck := &fakeEngines{prove: func(ctx context.Context, j queue.Prove) (*queue.Proved, error) {
		started <- struct{}{}
		<-release
		return nil, errors.New("released")
	}}
	a := startWorker(t, srv.URL(), stuck, WorkerConfig{Name: "a", AckWait: 800 * time.Millisecond})
	c := newClient(t, connect(t, srv.URL()), ClientHooks{})
	ctx := ctxFor(t, 30*time.Second)
	type answer struct {
		p   *queue.Proved
		err error
	}
	got := make(chan answer, 1)
	go func() {
		p, err := c.Prove(ctx, proveJob("bb01", testArtifacts()...))
		got <- answer{p, err}
	}()
	<-started
	a.kill()
	healthy := &fakeEngines{}
	b := startWorker(t, srv.URL(), healthy, WorkerConfig{Name: "b", AckWait: 800 * time.Millisecond})
	r := <-got
	if r.err != nil || string(r.p.Proof) != "proof of bb01" {
		t.Fatalf("answer: %+v", r)
	}
	eventually(t, func() bool { return b.dones.Load() == 1 })
	if healthy.runs.Load() != 1 || b.redel.Load() != 1 {
		t.Fatalf("worker b ran %d jobs (%d redelivered), want the one redelivered job", healthy.runs.Load(), b.redel.Load())
	}
}

// A live worker's long proof is not redelivered: its in-progress acks hold
// the job while an idle worker waits.
func TestLiveWorkerKeepsItsJob(t *testing.T) {
	srv := startServer(t, natsserver.Options{})
	slow := &fakeEngines{prove: func(ctx context.Context, j queue.Prove) (*queue.Proved, error) {
		time.Sleep(2 * time.Second)
		return &queue.Proved{Proof: []byte("slow")}, nil
	}}
	idle := &fakeEngines{}
	startWorker(t, srv.URL(), slow, WorkerConfig{Name: "slow", AckWait: 600 * time.Millisecond})
	c := newClient(t, connect(t, srv.URL()), ClientHooks{})
	ctx := ctxFor(t, 30*time.Second)
	done := make(chan error, 1)
	go func() { _, err := c.Prove(ctx, proveJob("cc01", testArtifacts()...)); done <- err }()
	for slow.runs.Load() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	startWorker(t, srv.URL(), idle, WorkerConfig{Name: "idle", AckWait: 600 * time.Millisecond})
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if slow.runs.Load() != 1 || idle.runs.Load() != 0 {
		t.Fatalf("runs: slow %d, idle %d; want 1 and 0", slow.runs.Load(), idle.runs.Load())
	}
}

// A job whose workers all died is dead-lettered on its next delivery,
// unrun, and its node told it is poison.
func TestPoisonJobIsDeadLettered(t *testing.T) {
	srv := startServer(t, natsserver.Options{})
	nc := connect(t, srv.URL())
	c := newClient(t, nc, ClientHooks{})
	ctx := ctxFor(t, 30*time.Second)
	const maxDeliver = 2
	js, _ := jetstream.New(nc)
	// Two deliveries nobody answers: workers that died holding the job.
	cons, err := js.CreateOrUpdateConsumer(ctx, JobsStream, jetstream.ConsumerConfig{
		Durable: ConsumerName(queue.KindSnark, queue.DefaultClass), FilterSubject: JobSubject(queue.KindSnark, queue.DefaultClass),
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: 300 * time.Millisecond, MaxDeliver: maxDeliver + deadLetterTries,
	})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() { _, err := c.Prove(ctx, proveJob("dd01", testArtifacts()...)); got <- err }()
	for i := range maxDeliver {
		m, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatalf("delivery %d: %v", i+1, err)
		}
		_ = m // unanswered
	}
	eng := &fakeEngines{}
	startWorker(t, srv.URL(), eng, WorkerConfig{Name: "w", AckWait: 300 * time.Millisecond, MaxDeliver: maxDeliver})
	err = <-got
	if !errors.Is(err, pool.ErrPoisonRequest) || !queue.IsPermanent(err) {
		t.Fatalf("want a permanent poison error, got %v", err)
	}
	if eng.runs.Load() != 0 {
		t.Fatal("the poison job was run")
	}
	dead, err := js.Stream(ctx, DeadStream)
	if err != nil {
		t.Fatal(err)
	}
	m, err := dead.GetLastMsgForSubject(ctx, DeadSubject(queue.KindSnark, queue.DefaultClass))
	if err != nil {
		t.Fatal(err)
	}
	if why := m.Header.Get("Proofd-Dead-Reason"); !strings.Contains(why, "handed to 2 workers") {
		t.Fatalf("dead-letter reason %q", why)
	}
	if j, err := queue.DecodeJob(m.Data); err != nil || j.ID() != "dd01" {
		t.Fatalf("dead-lettered job: %v %+v", err, j)
	}
	// The worker acks after the node has its answer: the queue empties soon after.
	jobs, _ := js.Stream(ctx, JobsStream)
	eventually(t, func() bool { si, err := jobs.Info(ctx); return err == nil && si.State.Msgs == 0 })
}

// A job whose every delivery went to a worker that died is dead-lettered by
// its node when JetStream says it will deliver it no more: the call gets a
// poison answer, the job leaves the queue.
func TestNodeDeadLettersWhatWorkersNeverAnswered(t *testing.T) {
	srv := startServer(t, natsserver.Options{})
	nc := connect(t, srv.URL())
	var dead atomic.Int32
	c := newClient(t, nc, ClientHooks{DeadLettered: func(string) { dead.Add(1) }})
	ctx := ctxFor(t, 30*time.Second)
	js, _ := jetstream.New(nc)
	cons, err := js.CreateOrUpdateConsumer(ctx, JobsStream, jetstream.ConsumerConfig{
		Durable: ConsumerName(queue.KindSnark, queue.DefaultClass), FilterSubject: JobSubject(queue.KindSnark, queue.DefaultClass),
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: 300 * time.Millisecond, MaxDeliver: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() { _, err := c.Prove(ctx, proveJob("fe01", testArtifacts()...)); got <- err }()
	for i := range 2 { // two workers take it and die
		if _, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second)); err != nil {
			t.Fatalf("delivery %d: %v", i+1, err)
		}
	}
	// A worker still pulling: JetStream finds the job out of deliveries
	// when it would hand it out again.
	if m, err := cons.Next(jetstream.FetchMaxWait(2 * time.Second)); err == nil {
		t.Fatalf("a third delivery of a job allowed two: %v", m.Subject())
	}
	err = <-got
	if !errors.Is(err, pool.ErrPoisonRequest) || !strings.Contains(err.Error(), "every worker died") {
		t.Fatalf("want a poison answer, got %v", err)
	}
	eventually(t, func() bool { return dead.Load() == 1 })
	deadStream, _ := js.Stream(ctx, DeadStream)
	m, err := deadStream.GetLastMsgForSubject(ctx, DeadSubject(queue.KindSnark, queue.DefaultClass))
	if err != nil || !strings.Contains(m.Header.Get("Proofd-Dead-Reason"), "delivered 2 times") {
		t.Fatalf("dead letter: %v %v", err, m)
	}
	jobs, _ := js.Stream(ctx, JobsStream)
	eventually(t, func() bool { si, err := jobs.Info(ctx); return err == nil && si.State.Msgs == 0 })
}

// Two nodes' calls of one job (a restart, say) are one job and one run; a
// late result for it is recognised and dropped.
func TestDuplicatePublishIsOneJob(t *testing.T) {
	srv := startServer(t, natsserver.Options{})
	gate := make(chan struct{})
	eng := &fakeEngines{prove: func(ctx context.Context, j queue.Prove) (*queue.Proved, error) {
		<-gate
		return &queue.Proved{Proof: []byte("p")}, nil
	}}
	var dup, late atomic.Int32
	c := newClient(t, connect(t, srv.URL()), ClientHooks{
		Published: func(kind, class string, d bool) {
			if d {
				dup.Add(1)
			}
		},
		Late: func(queue.Result) { late.Add(1) },
	})
	startWorker(t, srv.URL(), eng, WorkerConfig{Slots: 2, AckWait: 5 * time.Second})
	ctx := ctxFor(t, 30*time.Second)
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for range 2 {
		wg.Go(func() { _, err := c.Prove(ctx, proveJob("ee01", testArtifacts()...)); errs <- err })
	}
	for dup.Load() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	close(gate)
	wg.Wait()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if eng.runs.Load() != 1 {
		t.Fatalf("%d runs of one job", eng.runs.Load())
	}
	// A result for a job nobody waits for (a cut-off worker's, late).
	js, _ := jetstream.New(connect(t, srv.URL()))
	data, _ := queue.EncodeResult(queue.Result{ID: "ee01", Attempt: 1, Worker: "stale", Proved: &queue.Proved{Proof: []byte("p")}})
	if _, err := js.Publish(ctx, ResultSubject("n1", "ee01"), data); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { return late.Load() == 1 })
}

// A drain lets a job finish within the grace, and hands back one that
// cannot, for another worker.
func TestDrainHandsBackWhatCannotFinish(t *testing.T) {
	srv := startServer(t, natsserver.Options{})
	var calls atomic.Int32
	eng := &fakeEngines{prove: func(ctx context.Context, j queue.Prove) (*queue.Proved, error) {
		calls.Add(1)
		select {
		case <-time.After(10 * time.Second):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return &queue.Proved{Proof: []byte("late")}, nil
	}}
	a := startWorker(t, srv.URL(), eng, WorkerConfig{Name: "a", AckWait: 5 * time.Second, Grace: 200 * time.Millisecond})
	c := newClient(t, connect(t, srv.URL()), ClientHooks{})
	ctx := ctxFor(t, 30*time.Second)
	got := make(chan error, 1)
	go func() { _, err := c.Prove(ctx, proveJob("ff01", testArtifacts()...)); got <- err }()
	for calls.Load() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	a.stop()
	if err := <-a.done; err != nil {
		t.Fatal(err)
	}
	a.done <- nil // for the cleanup
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("drain took %s with a 200ms grace", took)
	}
	b := &fakeEngines{}
	startWorker(t, srv.URL(), b, WorkerConfig{Name: "b", AckWait: 5 * time.Second})
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if b.runs.Load() != 1 {
		t.Fatalf("the handed-back job ran %d times on b", b.runs.Load())
	}
}

// The node replaces a bucket object that does not hold its artifact; an
// object changed after the upload is refused by a worker that fetches it (an
// error naming the digest), never used.
func TestDigestMismatchIsAnError(t *testing.T) {
	srv := startServer(t, natsserver.Options{})
	nc := connect(t, srv.URL())
	c := newClient(t, nc, ClientHooks{})
	arts := testArtifacts()
	js, _ := jetstream.New(nc)
	obs, err := js.ObjectStore(t.Context(), ArtifactBucket)
	if err != nil {
		t.Fatal(err)
	}
	wrong := bytes.Repeat([]byte{'x'}, len(arts[0].Data))
	if _, err := obs.PutBytes(t.Context(), arts[0].Digest.String(), wrong); err != nil {
		t.Fatal(err)
	}
	first := startWorker(t, srv.URL(), &fakeEngines{}, WorkerConfig{Name: "first", AckWait: 5 * time.Second})
	ctx := ctxFor(t, 30*time.Second)
	if _, err := c.Prove(ctx, proveJob("ab01", arts...)); err != nil {
		t.Fatalf("the node did not replace the wrong object: %v", err)
	}
	first.stop()
	<-first.done
	first.done <- nil // for the cleanup

	// Someone puts other bytes under the circuit's name after the upload.
	if _, err := obs.PutBytes(t.Context(), arts[0].Digest.String(), wrong); err != nil {
		t.Fatal(err)
	}
	eng := &fakeEngines{}
	startWorker(t, srv.URL(), eng, WorkerConfig{Name: "second", AckWait: 5 * time.Second})
	_, err = c.Prove(ctx, proveJob("ab02", arts...))
	if err == nil || !strings.Contains(err.Error(), arts[0].Digest.String()) {
		t.Fatalf("want an error naming %s, got %v", arts[0].Digest.Short(), err)
	}
	if eng.runs.Load() != 0 {
		t.Fatal("a job ran on a mismatched artifact")
	}
}

// With nkey users configured, a client with the seed connects and one
// without is refused; the URL's secrets never reach an error.
func TestNKeyAuthentication(t *testing.T) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	seedFile := filepath.Join(t.TempDir(), "worker.nk")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, natsserver.Options{NKeyUsers: []string{pub}})
	nc, err := ConnConfig{URL: srv.URL(), NKey: seedFile}.Connect()
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
	secretURL := strings.Replace(srv.URL(), "nats://", "nats://admin:hunter2@", 1)
	_, err = ConnConfig{URL: secretURL}.Connect()
	if err == nil {
		t.Fatal("a client without credentials connected")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("the error shows the password: %v", err)
	}
	if got := Redact("nats://u:p@a:4222,tls://tok@b:4222"); got != "nats://REDACTED@a:4222,tls://REDACTED@b:4222" {
		t.Fatalf("Redact: %s", got)
	}
	if err := (ConnConfig{URL: "x", Creds: "a", NKey: "b", TLSCert: "c"}).Validate(); err == nil || !strings.Contains(err.Error(), "exclusive") || !strings.Contains(err.Error(), "go together") {
		t.Fatalf("Validate: %v", err)
	}
}

// Mutual TLS: a client with the CA and its certificate connects; one
// without a certificate is refused.
func TestMutualTLS(t *testing.T) {
	set, err := devcert.Generate([]string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := set.Write(dir); err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(set.Server, set.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	cas := x509.NewCertPool()
	cas.AppendCertsFromPEM(set.CA)
	srv := startServer(t, natsserver.Options{TLS: &tls.Config{
		Certificates: []tls.Certificate{cert}, ClientCAs: cas, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12,
	}})
	url := strings.Replace(srv.URL(), "nats://", "tls://", 1)
	files := devcert.Files(dir) // ca, ca key, server, server key, client, client key
	nc, err := ConnConfig{URL: url, TLSCert: files[4], TLSKey: files[5], TLSCA: files[0]}.Connect()
	if err != nil {
		t.Fatalf("a client with its certificate: %v", err)
	}
	c := newClient(t, nc, ClientHooks{})
	// The queue works over it.
	eng := &fakeEngines{}
	wnc, err := ConnConfig{URL: url, TLSCert: files[4], TLSKey: files[5], TLSCA: files[0]}.Connect()
	if err != nil {
		t.Fatal(err)
	}
	cache, err := artcache.Open(artcache.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- RunWorker(ctx, wnc, WorkerConfig{Name: "tls", Engines: eng, Cache: cache, AckWait: 5 * time.Second})
	}()
	if _, err := c.Prove(ctxFor(t, 30*time.Second), proveJob("cd01", testArtifacts()...)); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-done
	wnc.Close()
	nc.Close()
	if _, err := (ConnConfig{URL: url, TLSCA: files[0]}).Connect(); err == nil {
		t.Fatal("a client without a certificate connected")
	}
}

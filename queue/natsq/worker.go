package natsq

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/artifact/artcache"
	"github.com/proofd/proofd/engine"
	"github.com/proofd/proofd/engine/pool"
	"github.com/proofd/proofd/queue"
)

// Engines run a worker's jobs (queue.Local on the worker's engine pool).
type Engines interface {
	Prove(ctx context.Context, j queue.Prove) (*queue.Proved, error)
	Verify(ctx context.Context, j queue.Verify) (*engine.VerifyResult, error)
}

// WorkerConfig configures a worker.
type WorkerConfig struct {
	Name    string   // shown in results and logs
	Classes []string // resource classes this host runs (default: cpu)
	// Slots is how many jobs run at once (the engine pool's size).
	Slots int
	// AckWait is how long a job may go without word from its worker before
	// JetStream hands it to another: a live worker says "in progress" every
	// AckWait/3, so only a dead or cut-off worker's job moves.
	AckWait time.Duration
	// MaxDeliver is how many workers a job may be handed to. A job whose
	// workers all died is dead-lettered on its next delivery, unrun, and its
	// node told it is poison.
	MaxDeliver int
	// Grace is how long a drain lets jobs in flight finish before they are
	// handed back (nak).
	Grace    time.Duration
	Topology Topology
	Engines  Engines
	Cache    *artcache.Cache
	// MaxArtifactBytes bounds one artifact download (default 4 GiB).
	MaxArtifactBytes int64
	Hooks            WorkerHooks
	Logger           *slog.Logger
}

// WorkerHooks observe a worker (all optional).
type WorkerHooks struct {
	// Done: a job's result was published and the job acked; outcome is
	// "proved", "verified", "bad_input", "poison" or "failed".
	Done func(class, outcome string, redelivered bool, took time.Duration)
	// Dead: a job was dead-lettered (why: "deliveries" or "unreadable").
	Dead func(class, why string)
	// Returned: a job was handed back unfinished (drain).
	Returned func(class string)
}

// EnsureDefaults fills zero fields.
func (c *WorkerConfig) EnsureDefaults() {
	if len(c.Classes) == 0 {
		c.Classes = []string{queue.DefaultClass}
	}
	if c.Slots == 0 {
		c.Slots = 1
	}
	if c.AckWait == 0 {
		c.AckWait = 30 * time.Second
	}
	if c.MaxDeliver == 0 {
		c.MaxDeliver = 3
	}
	if c.Grace == 0 {
		c.Grace = 30 * time.Second
	}
	if c.MaxArtifactBytes == 0 {
		c.MaxArtifactBytes = defaultMaxArtifact
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports every problem at once.
func (c WorkerConfig) Validate() error {
	var errs []error
	for _, cl := range c.Classes {
		if err := queue.CheckToken(cl, 32); err != nil {
			errs = append(errs, fmt.Errorf("class %q: %w", cl, err))
		}
	}
	if c.Slots < 1 || c.MaxDeliver < 1 {
		errs = append(errs, errors.New("slots and max-deliver must be at least 1"))
	}
	if c.AckWait < 3*time.Millisecond {
		errs = append(errs, fmt.Errorf("ack-wait %s is too short", c.AckWait))
	}
	return errors.Join(errs...)
}

type worker struct {
	cfg  WorkerConfig
	js   jetstream.JetStream
	obs  jetstream.ObjectStore
	log  *slog.Logger
	run  context.Context // cancelled when the drain's grace is up
	slot chan struct{}
	wg   sync.WaitGroup
}

// RunWorker pulls jobs of the configured classes and runs them until ctx
// ends, then drains: it takes no new job, lets those in flight finish for
// up to Grace, and hands the rest back. A job is acked only once its
// result is stored in the results stream.
func RunWorker(ctx context.Context, nc *nats.Conn, cfg WorkerConfig) error {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	if cfg.Engines == nil || cfg.Cache == nil {
		return errors.New("worker: Engines and Cache are required")
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	obs, err := Ensure(ctx, js, cfg.Topology)
	if err != nil {
		return err
	}
	run, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	w := &worker{cfg: cfg, js: js, obs: obs, log: cfg.Logger, run: run, slot: make(chan struct{}, cfg.Slots)}
	var pulls sync.WaitGroup
	for _, class := range cfg.Classes {
		cons, err := js.CreateOrUpdateConsumer(ctx, JobsStream, jetstream.ConsumerConfig{
			Durable: ConsumerName(queue.KindSnark, class), FilterSubject: JobSubject(queue.KindSnark, class),
			AckPolicy: jetstream.AckExplicitPolicy, AckWait: cfg.AckWait, MaxDeliver: cfg.MaxDeliver + deadLetterTries,
		})
		if err != nil {
			return fmt.Errorf("nats: consumer for %s jobs: %w", class, err)
		}
		pulls.Add(1)
		go func() { defer pulls.Done(); w.pull(ctx, class, cons) }()
	}
	w.log.Info("worker pulling jobs", "classes", cfg.Classes, "slots", cfg.Slots, "ack_wait", cfg.AckWait.String())
	pulls.Wait()
	w.log.Info("draining: no new jobs", "in_flight", len(w.slot), "grace", cfg.Grace.String())
	done := make(chan struct{})
	go func() { w.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(cfg.Grace):
		stop()
		<-done
	}
	return nil
}

// pull takes one job per free slot until ctx ends.
func (w *worker) pull(ctx context.Context, class string, cons jetstream.Consumer) {
	for {
		select {
		case w.slot <- struct{}{}:
		case <-ctx.Done():
			return
		}
		fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		m, err := cons.Next(jetstream.FetchContext(fctx))
		cancel()
		if err != nil {
			<-w.slot
			if ctx.Err() != nil {
				return
			}
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, nats.ErrTimeout) {
				w.log.Warn("nats: fetch a job", "class", class, "err", err)
				select {
				case <-time.After(500 * time.Millisecond):
				case <-ctx.Done():
					return
				}
			}
			continue
		}
		w.wg.Add(1)
		go func() {
			defer func() { <-w.slot; w.wg.Done() }()
			w.handle(class, m)
		}()
	}
}

func (w *worker) handle(class string, m jetstream.Msg) {
	meta, err := m.Metadata()
	if err != nil {
		w.log.Warn("nats: a job without metadata", "err", err)
		m.Term()
		return
	}
	redelivered := meta.NumDelivered > 1
	job, err := queue.DecodeJob(m.Data())
	if err != nil {
		w.deadLetter(class, m, "unreadable", err.Error())
		m.TermWithReason("unreadable job")
		return
	}
	log := w.log.With("job", job.ID(), "attempt", job.Attempt(), "delivery", meta.NumDelivered)
	if meta.NumDelivered > uint64(w.cfg.MaxDeliver) {
		why := fmt.Sprintf("handed to %d workers, none of which answered (max-deliver %d)", meta.NumDelivered-1, w.cfg.MaxDeliver)
		w.deadLetter(class, m, "deliveries", why)
		if w.publish(job, poisonResult(job, why, w.cfg.Name)) == nil {
			m.DoubleAck(w.run)
		}
		log.Warn("job dead-lettered", "why", why)
		return
	}

	log.Info("job taken", "class", class)
	jctx, cancel := context.WithCancel(w.run)
	defer cancel()
	beat := time.NewTicker(w.cfg.AckWait / 3)
	defer beat.Stop()
	type outcome struct{ r queue.Result }
	out := make(chan outcome, 1)
	go func() { out <- outcome{w.runJob(jctx, job)} }()
	var o outcome
wait:
	for {
		select {
		case o = <-out:
			break wait
		case <-beat.C:
			if err := m.InProgress(); err != nil {
				log.Debug("nats: in-progress ack", "err", err)
			}
		}
	}
	if w.run.Err() != nil {
		// The drain's grace is up: hand the job back for another worker.
		m.Nak()
		if w.cfg.Hooks.Returned != nil {
			w.cfg.Hooks.Returned(class)
		}
		log.Info("job handed back (drain)")
		return
	}
	if err := w.publish(job, o.r); err != nil {
		log.Warn("result not stored; the job will be redelivered", "err", err)
		m.Nak()
		return
	}
	if err := m.DoubleAck(w.run); err != nil {
		// The result is stored; a redelivery finds it answered (the node
		// drops the duplicate) and costs one more run, never a receipt.
		log.Warn("nats: ack after storing the result", "err", err)
	}
	if w.cfg.Hooks.Done != nil {
		w.cfg.Hooks.Done(class, Outcome(o.r), redelivered, o.r.Took)
	}
	log.Info("job done", "outcome", Outcome(o.r), "took", o.r.Took.String())
}

// Outcome names a result for metrics and logs: "proved", "verified",
// "poison", "bad_input" or "failed".
func Outcome(r queue.Result) string {
	switch {
	case r.Proved != nil:
		return "proved"
	case r.Verdict != nil:
		return "verified"
	case errors.Is(r.Err, pool.ErrPoisonRequest):
		return "poison"
	case queue.IsPermanent(r.Err):
		return "bad_input"
	}
	return "failed"
}

// runJob fetches the job's artifacts (from this host's cache, or the
// bucket) and runs it on the engines.
func (w *worker) runJob(ctx context.Context, job queue.Job) queue.Result {
	r := queue.Result{ID: job.ID(), Attempt: job.Attempt(), Worker: w.cfg.Name}
	start := time.Now()
	get := func(a *artifact.Artifact) error {
		got, err := w.cfg.Cache.Get(ctx, a.Digest, bucket{w.obs, w.cfg.MaxArtifactBytes})
		if err != nil {
			return err
		}
		*a = got
		return nil
	}
	var err error
	switch {
	case job.Prove != nil:
		p := *job.Prove
		if err = errors.Join(get(&p.CCS), get(&p.PK)); err == nil && p.VK != nil {
			vk := *p.VK
			err = get(&vk)
			p.VK = &vk
		}
		if err == nil {
			r.Proved, err = w.cfg.Engines.Prove(ctx, p)
		}
	case job.Verify != nil:
		v := *job.Verify
		if err = get(&v.VK); err == nil {
			r.Verdict, err = w.cfg.Engines.Verify(ctx, v)
		}
	}
	r.Took = time.Since(start)
	if err != nil {
		r.Proved, r.Verdict, r.Err = nil, nil, err
	}
	return r
}

// publish stores the result, retrying through a server's death for up to
// AckWait (after which the job is another worker's anyway).
func (w *worker) publish(job queue.Job, r queue.Result) error {
	msg, dedup, err := resultMsg(job.Node, r)
	if err != nil {
		return err
	}
	_, err = backoff.Retry(w.run, func() (*jetstream.PubAck, error) {
		ctx, cancel := context.WithTimeout(w.run, 5*time.Second)
		defer cancel()
		return w.js.PublishMsg(ctx, msg, dedup)
	}, backoff.WithBackOff(backoff.NewExponentialBackOff()), backoff.WithMaxElapsedTime(w.cfg.AckWait))
	return err
}

// deadLetter copies a job to the dead-letter stream with why in a header.
func (w *worker) deadLetter(class string, m jetstream.Msg, kind, why string) {
	ctx, cancel := context.WithTimeout(w.run, 5*time.Second)
	defer cancel()
	if _, err := w.js.PublishMsg(ctx, deadLetterMsg(m.Subject(), m.Data(), why, "worker "+w.cfg.Name)); err != nil {
		w.log.Warn("nats: dead-letter a job", "err", err)
	}
	if w.cfg.Hooks.Dead != nil {
		w.cfg.Hooks.Dead(class, kind)
	}
}

// bucket fetches artifacts from the object store for the cache.
type bucket struct {
	obs jetstream.ObjectStore
	max int64
}

func (b bucket) Fetch(ctx context.Context, d artifact.Digest) ([]byte, error) {
	obj, err := b.obs.Get(ctx, d.String())
	if err != nil {
		return nil, fmt.Errorf("artifact %s from %s: %w", d.Short(), ArtifactBucket, err)
	}
	defer obj.Close()
	data, err := io.ReadAll(io.LimitReader(obj, b.max+1))
	if err != nil {
		return nil, fmt.Errorf("artifact %s from %s: %w", d.Short(), ArtifactBucket, err)
	}
	if int64(len(data)) > b.max {
		return nil, fmt.Errorf("artifact %s from %s: over %d bytes", d.Short(), ArtifactBucket, b.max)
	}
	return data, nil
}

// defaultMaxArtifact bounds one artifact download unless configured.
const defaultMaxArtifact = 4 << 30

// deadLetterTries are the deliveries past MaxDeliver the consumer allows:
// the worker dead-letters a job on its first one, and the rest are for a
// dead-lettering that failed (a worker dying in it, a server failing over).
const deadLetterTries = 3

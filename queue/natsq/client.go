package natsq

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/singleflight"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/artifact/artcache"
	"github.com/proofd/proofd/engine"
	"github.com/proofd/proofd/queue"
)

// ClientConfig configures a node's side of the queue.
type ClientConfig struct {
	// Node names this node: its results come back on
	// proofd.result.<Node>.>, so nodes sharing a cluster keep apart.
	Node     string
	Topology Topology
	Hooks    ClientHooks
	Logger   *slog.Logger
	// RetryFor bounds how long a publication or upload is retried through
	// a cluster's failover before the call fails (default 1 minute).
	RetryFor time.Duration
}

// ClientHooks observe the client (all optional).
type ClientHooks struct {
	Published func(kind, class string, duplicate bool)
	Answered  func(kind string, r queue.Result, wait time.Duration)
	Late      func(r queue.Result) // a result no call waits for: a duplicate, or one for a call already answered
	Uploaded  func(d artifact.Digest, bytes int)
	// DeadLettered: a job of this node used up every delivery JetStream
	// allows (each worker died holding it) and was dead-lettered here.
	DeadLettered func(id string)
}

// Client publishes a node's jobs to JetStream and waits for their results:
// the queue seam's implementation across hosts (examples/rollup/prover
// calls it as it calls queue.Local).
type Client struct {
	cfg     ClientConfig
	js      jetstream.JetStream
	results jetstream.Stream
	obs     jetstream.ObjectStore
	cons    jetstream.ConsumeContext
	jobs    jetstream.Stream
	adv     *nats.Subscription
	advWG   sync.WaitGroup
	log     *slog.Logger

	uploads  singleflight.Group
	mu       sync.Mutex
	uploaded map[artifact.Digest]bool
	waiters  map[string][]chan queue.Result
}

// NewClient declares the topology and starts following the node's results.
func NewClient(ctx context.Context, nc *nats.Conn, cfg ClientConfig) (*Client, error) {
	if err := queue.CheckToken(cfg.Node, queue.MaxNodeLen); err != nil {
		return nil, fmt.Errorf("nats node name %q: %w", cfg.Node, err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RetryFor == 0 {
		cfg.RetryFor = time.Minute
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	obs, err := Ensure(ctx, js, cfg.Topology)
	if err != nil {
		return nil, err
	}
	results, err := js.Stream(ctx, ResultsStream)
	if err != nil {
		return nil, fmt.Errorf("nats: stream %s: %w", ResultsStream, err)
	}
	c := &Client{cfg: cfg, js: js, results: results, obs: obs, log: cfg.Logger,
		uploaded: map[artifact.Digest]bool{}, waiters: map[string][]chan queue.Result{}}
	// Results published from now on arrive here; one published before a
	// call began waiting is found by the call itself (lastResult).
	oc, err := results.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{ResultSubject(cfg.Node, ">")}, DeliverPolicy: jetstream.DeliverNewPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("nats: follow results: %w", err)
	}
	if c.cons, err = oc.Consume(c.deliver); err != nil {
		return nil, fmt.Errorf("nats: follow results: %w", err)
	}
	if c.jobs, err = js.Stream(ctx, JobsStream); err != nil {
		c.cons.Stop()
		return nil, fmt.Errorf("nats: stream %s: %w", JobsStream, err)
	}
	// JetStream tells when a job used up its deliveries; the workers
	// dead-letter a job on a delivery past max-deliver, and this catches
	// the rest: a job whose last deliveries all went to workers that died.
	if c.adv, err = nc.Subscribe(maxDeliveriesSubject, c.maxDeliveries); err != nil {
		c.cons.Stop()
		return nil, fmt.Errorf("nats: follow advisories: %w", err)
	}
	return c, nil
}

// Close stops following results and advisories; calls in flight end with
// their contexts.
func (c *Client) Close() {
	c.cons.Stop()
	c.adv.Unsubscribe()
	c.advWG.Wait()
}

// maxDeliveriesSubject is JetStream's advisory for a message that used up
// its consumer's MaxDeliver, on the jobs stream.
const maxDeliveriesSubject = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + JobsStream + ".*"

// maxDeliveries dead-letters one of this node's jobs that JetStream will
// deliver no more: a copy to PROOFD_DEAD, a poison result (which answers
// the waiting call, now or after a restart), and the job out of the queue.
func (c *Client) maxDeliveries(m *nats.Msg) {
	var adv struct {
		StreamSeq  uint64 `json:"stream_seq"`
		Deliveries uint64 `json:"deliveries"`
	}
	if err := json.Unmarshal(m.Data, &adv); err != nil || adv.StreamSeq == 0 {
		c.log.Warn("nats: unreadable max-deliveries advisory ignored", "err", err)
		return
	}
	c.advWG.Add(1)
	go func() {
		defer c.advWG.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		raw, err := c.jobs.GetMsg(ctx, adv.StreamSeq)
		if err != nil {
			return // answered after all, or another node's watcher took it
		}
		job, err := queue.DecodeJob(raw.Data)
		if err != nil || job.Node != c.cfg.Node {
			return // not this node's: its own node dead-letters it
		}
		why := fmt.Sprintf("delivered %d times, every worker died holding it", adv.Deliveries)
		by := "node " + c.cfg.Node
		if _, err := c.js.PublishMsg(ctx, deadLetterMsg(raw.Subject, raw.Data, why, by)); err != nil {
			c.log.Warn("nats: dead-letter a job", "job", short(job.ID()), "err", err)
			return
		}
		msg, dedup, err := resultMsg(c.cfg.Node, poisonResult(job, why, by))
		if err == nil {
			_, err = c.js.PublishMsg(ctx, msg, dedup)
		}
		if err != nil {
			c.log.Warn("nats: answer a dead-lettered job", "job", short(job.ID()), "err", err)
			return
		}
		if err := c.jobs.DeleteMsg(ctx, adv.StreamSeq); err != nil {
			c.log.Warn("nats: remove a dead-lettered job", "job", short(job.ID()), "err", err)
		}
		if c.cfg.Hooks.DeadLettered != nil {
			c.cfg.Hooks.DeadLettered(job.ID())
		}
		c.log.Warn("job dead-lettered", "job", job.ID(), "why", why)
	}()
}

func (c *Client) deliver(m jetstream.Msg) {
	r, err := queue.DecodeResult(m.Data())
	if err != nil {
		c.log.Warn("nats: unreadable result ignored", "subject", m.Subject(), "err", err)
		return
	}
	c.mu.Lock()
	ws := c.waiters[r.ID]
	c.mu.Unlock()
	if len(ws) == 0 {
		if c.cfg.Hooks.Late != nil {
			c.cfg.Hooks.Late(r)
		}
		return
	}
	for _, w := range ws {
		select {
		case w <- r:
		default: // the waiter already has a result to look at
		}
	}
}

// Prove publishes a proving job and waits for its proof.
func (c *Client) Prove(ctx context.Context, j queue.Prove) (*queue.Proved, error) {
	arts := []artifact.Artifact{j.CCS, j.PK}
	if j.VK != nil {
		arts = append(arts, *j.VK)
	}
	r, err := c.call(ctx, queue.Job{Node: c.cfg.Node, Prove: &j}, j.Class, arts)
	if err != nil {
		return nil, err
	}
	if r.Err != nil {
		return nil, r.Err
	}
	if r.Proved == nil {
		return nil, fmt.Errorf("nats: job %s: the worker answered a proving job with no proof", short(j.ID))
	}
	return r.Proved, nil
}

// Verify publishes a verifying job and waits for its verdict. Every call
// is a job of its own (its id gets a random suffix): verifications are
// cheap, and a failure kept from an earlier call (an engine that died) must
// not answer a later one.
func (c *Client) Verify(ctx context.Context, j queue.Verify) (*engine.VerifyResult, error) {
	if j.ID == "" {
		j.ID = queue.VerifyID(j.VK.Digest, j.Proof, j.Public, j.Target)
	}
	var nonce [8]byte
	rand.Read(nonce[:])
	j.ID += "-" + hex.EncodeToString(nonce[:])
	if j.Attempt == 0 {
		j.Attempt = 1
	}
	r, err := c.call(ctx, queue.Job{Node: c.cfg.Node, Verify: &j}, j.Class, []artifact.Artifact{j.VK})
	if err != nil {
		return nil, err
	}
	if r.Err != nil {
		return nil, r.Err
	}
	if r.Verdict == nil {
		return nil, fmt.Errorf("nats: job %s: the worker answered a verifying job with no verdict", short(j.ID))
	}
	return r.Verdict, nil
}

// call is one job's round: its artifacts in the bucket, a waiter, a result
// already there, else the job published (deduplicated by id and attempt)
// and its answer awaited.
func (c *Client) call(ctx context.Context, j queue.Job, class string, arts []artifact.Artifact) (queue.Result, error) {
	if class == "" {
		class = queue.DefaultClass
	}
	id, attempt := j.ID(), j.Attempt()
	for _, a := range arts {
		if err := c.upload(ctx, a); err != nil {
			return queue.Result{}, err
		}
	}
	data, err := queue.EncodeJob(j)
	if err != nil {
		return queue.Result{}, err
	}
	start := time.Now()
	w := make(chan queue.Result, 1)
	c.mu.Lock()
	c.waiters[id] = append(c.waiters[id], w)
	c.mu.Unlock()
	defer c.unwait(id, w)

	if r, ok := c.lastResult(ctx, id); ok && usable(r, attempt) {
		c.answered(r, start)
		return r, nil
	}
	msg := &nats.Msg{Subject: JobSubject(queue.KindSnark, class), Data: data, Header: nats.Header{}}
	// A publication that fails while the cluster fails over is tried again:
	// the message id makes a try that did land count once.
	ack, err := retry(ctx, c, func(ctx context.Context) (*jetstream.PubAck, error) {
		return c.js.PublishMsg(ctx, msg, jetstream.WithMsgID(MsgID(id, attempt)))
	})
	if err != nil {
		return queue.Result{}, fmt.Errorf("nats: publish job %s: %w", short(id), err)
	}
	if c.cfg.Hooks.Published != nil {
		c.cfg.Hooks.Published(queue.KindSnark, class, ack.Duplicate)
	}
	for {
		select {
		case r := <-w:
			if usable(r, attempt) {
				c.answered(r, start)
				return r, nil
			}
			c.log.Debug("nats: stale result ignored", "job", short(id), "attempt", r.Attempt, "want", attempt)
		case <-ctx.Done():
			return queue.Result{}, ctx.Err()
		}
	}
}

// usable: any proof or verdict answers the job, a failure only the attempt
// it was for (or a later one).
func usable(r queue.Result, attempt int) bool { return r.Err == nil || r.Attempt >= attempt }

func (c *Client) answered(r queue.Result, start time.Time) {
	if c.cfg.Hooks.Answered != nil {
		c.cfg.Hooks.Answered(queue.KindSnark, r, time.Since(start))
	}
}

func (c *Client) unwait(id string, w chan queue.Result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ws := c.waiters[id]
	for i, x := range ws {
		if x == w {
			ws = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(c.waiters, id)
	} else {
		c.waiters[id] = ws
	}
}

// lastResult is the result already kept for id, if any.
func (c *Client) lastResult(ctx context.Context, id string) (queue.Result, bool) {
	m, err := c.results.GetLastMsgForSubject(ctx, ResultSubject(c.cfg.Node, id))
	if err != nil {
		if !errors.Is(err, jetstream.ErrMsgNotFound) {
			c.log.Warn("nats: look up a kept result", "job", short(id), "err", err)
		}
		return queue.Result{}, false
	}
	r, err := queue.DecodeResult(m.Data)
	if err != nil || r.ID != id {
		c.log.Warn("nats: unreadable kept result ignored", "job", short(id), "err", err)
		return queue.Result{}, false
	}
	return r, true
}

// upload puts an artifact in the bucket unless an object of its name with
// its digest is there already (an object holding other bytes is replaced).
// A worker re-hashes what it downloads, so an object changed after the
// upload is refused there, never used.
func (c *Client) upload(ctx context.Context, a artifact.Artifact) error {
	c.mu.Lock()
	done := c.uploaded[a.Digest]
	c.mu.Unlock()
	if done {
		return nil
	}
	_, err, _ := c.uploads.Do(a.Digest.String(), func() (any, error) {
		name := a.Digest.String()
		info, err := c.obs.GetInfo(ctx, name)
		if err == nil && info.Digest == objectDigest(a.Digest) {
			return nil, nil // there, and holding these bytes: never uploaded twice
		}
		if a.Data == nil {
			return nil, fmt.Errorf("nats: artifact %s is not in %s and the caller has no bytes for it", a.Digest.Short(), ArtifactBucket)
		}
		_, err = retry(ctx, c, func(ctx context.Context) (*jetstream.ObjectInfo, error) { return c.obs.PutBytes(ctx, name, a.Data) })
		if err != nil {
			return nil, fmt.Errorf("nats: upload artifact %s: %w", a.Digest.Short(), err)
		}
		if c.cfg.Hooks.Uploaded != nil {
			c.cfg.Hooks.Uploaded(a.Digest, len(a.Data))
		}
		return nil, nil
	})
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.uploaded[a.Digest] = true
	c.mu.Unlock()
	return nil
}

// retry runs fn until it succeeds, for up to ClientConfig.RetryFor: NATS
// calls fail while a cluster elects a new leader (a server died), and that
// is no reason to fail a proof. Each try has 10 s.
func retry[T any](ctx context.Context, c *Client, fn func(context.Context) (T, error)) (T, error) {
	return backoff.Retry(ctx, func() (T, error) {
		tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		v, err := fn(tctx)
		if errors.Is(err, nats.ErrMaxPayload) {
			return v, backoff.Permanent(err) // too large is too large on every server
		}
		return v, err
	}, backoff.WithBackOff(backoff.NewExponentialBackOff()), backoff.WithMaxElapsedTime(c.cfg.RetryFor))
}

// MsgID is the deduplication id of a job's or result's publication: one
// per job and attempt.
func MsgID(id string, attempt int) string { return id + "-" + strconv.Itoa(attempt) }

func short(id string) string {
	if len(id) > 16 {
		return id[:16] + "…"
	}
	return id
}

// BucketSource is the artifact bucket c uploads to, as a source for a host
// cache (what a worker fetches from).
func BucketSource(c *Client) artcache.Source { return bucket{obs: c.obs, max: defaultMaxArtifact} }

// objectDigest is how the object store writes an object's SHA-256 in its
// info (nats.go's "SHA-256=" and URL-safe base64).
func objectDigest(d artifact.Digest) string {
	return "SHA-256=" + base64.URLEncoding.EncodeToString(d[:])
}

package natsq

import (
	"context"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/nats-io/nats.go/jetstream"
)

// The streams and the bucket proofd uses (proto/queuev1 names the subjects).
const (
	JobsStream     = "PROOFD_JOBS"
	ResultsStream  = "PROOFD_RESULTS"
	DeadStream     = "PROOFD_DEAD"
	ArtifactBucket = "proofd-artifacts"
)

// JobSubject is where jobs of an engine kind and resource class wait.
func JobSubject(kind, class string) string { return "proofd.job." + kind + "." + class }

// ResultSubject is where a node's result for one job is kept.
func ResultSubject(node, id string) string { return "proofd.result." + node + "." + id }

// DeadSubject is where poison jobs of a kind and class go.
func DeadSubject(kind, class string) string { return "proofd.dead." + kind + "." + class }

// ConsumerName is the durable pull consumer the workers of one kind and
// class share.
func ConsumerName(kind, class string) string { return "proofd-" + kind + "-" + class }

// Topology is the shape of proofd's streams. Nodes and workers declare the
// same one (CreateOrUpdate), so either may start first.
type Topology struct {
	// Replicas of every stream and the bucket: 1 on one server, 3 on a
	// cluster of 3 or more.
	Replicas int
	// DupWindow: a job or result published twice with one message id
	// within it is stored once.
	DupWindow time.Duration
	// ResultTTL: how long a result waits for its node.
	ResultTTL time.Duration
	// DeadTTL: how long a dead-lettered job is kept for inspection.
	DeadTTL time.Duration
	// MaxMsgBytes bounds one job or result.
	MaxMsgBytes int32
}

// EnsureDefaults fills zero fields.
func (t *Topology) EnsureDefaults() {
	if t.Replicas == 0 {
		t.Replicas = 1
	}
	if t.DupWindow == 0 {
		t.DupWindow = 10 * time.Minute
	}
	if t.ResultTTL == 0 {
		t.ResultTTL = 24 * time.Hour
	}
	if t.DeadTTL == 0 {
		t.DeadTTL = 7 * 24 * time.Hour
	}
	if t.MaxMsgBytes == 0 {
		t.MaxMsgBytes = 1 << 20
	}
}

// Ensure creates or updates the streams and the artifact bucket. A cluster
// that is still electing its JetStream leader (just started, or a server
// down) is waited for, with backoff, for up to a minute or until ctx ends.
func Ensure(ctx context.Context, js jetstream.JetStream, t Topology) (jetstream.ObjectStore, error) {
	return backoff.Retry(ctx, func() (jetstream.ObjectStore, error) { return ensure(ctx, js, t) },
		backoff.WithBackOff(backoff.NewExponentialBackOff()), backoff.WithMaxElapsedTime(time.Minute))
}

func ensure(ctx context.Context, js jetstream.JetStream, t Topology) (jetstream.ObjectStore, error) {
	t.EnsureDefaults()
	streams := []jetstream.StreamConfig{{
		Name: JobsStream, Description: "proofd jobs waiting for a worker",
		Subjects: []string{"proofd.job.>"}, Retention: jetstream.WorkQueuePolicy,
	}, {
		Name: ResultsStream, Description: "proofd results waiting for their node",
		Subjects: []string{"proofd.result.>"}, MaxMsgsPerSubject: 1, MaxAge: t.ResultTTL,
	}, {
		Name: DeadStream, Description: "proofd jobs that exhausted their deliveries",
		Subjects: []string{"proofd.dead.>"}, MaxAge: t.DeadTTL,
	}}
	for _, sc := range streams {
		sc.Storage, sc.Replicas, sc.Duplicates, sc.MaxMsgSize = jetstream.FileStorage, t.Replicas, t.DupWindow, t.MaxMsgBytes
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return nil, fmt.Errorf("nats: stream %s: %w", sc.Name, err)
		}
	}
	obs, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket: ArtifactBucket, Description: "proofd artifacts by SHA-256 digest",
		Storage: jetstream.FileStorage, Replicas: t.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("nats: bucket %s: %w", ArtifactBucket, err)
	}
	return obs, nil
}

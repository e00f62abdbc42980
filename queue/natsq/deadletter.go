package natsq

import (
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/proofd/proofd/engine/pool"
	"github.com/proofd/proofd/queue"
)

// What worker and node share to dead-letter a job: a worker on a delivery
// past max-deliver, the node on JetStream's max-deliveries advisory.

// deadLetterMsg is a job's message as PROOFD_DEAD keeps it: the job's
// bytes, with where it was queued, why, and who dead-lettered it in
// headers.
func deadLetterMsg(subject string, data []byte, why, by string) *nats.Msg {
	kind, class := subjectKindClass(subject)
	h := nats.Header{}
	h.Set("Proofd-Dead-Reason", why)
	h.Set("Proofd-Dead-Subject", subject)
	h.Set("Proofd-Dead-By", by)
	return &nats.Msg{Subject: DeadSubject(kind, class), Data: data, Header: h}
}

// poisonResult answers a dead-lettered job: permanent, never retried.
func poisonResult(job queue.Job, why, by string) queue.Result {
	return queue.Result{ID: job.ID(), Attempt: job.Attempt(), Worker: by, Err: fmt.Errorf("job %s: %w", short(job.ID()), &poison{why})}
}

// resultMsg is r's publication on its node's subject, deduplicated per job
// and attempt: two workers' answers to one attempt are stored once.
func resultMsg(node string, r queue.Result) (*nats.Msg, jetstream.PublishOpt, error) {
	data, err := queue.EncodeResult(r)
	if err != nil {
		return nil, nil, err
	}
	return &nats.Msg{Subject: ResultSubject(node, r.ID), Data: data}, jetstream.WithMsgID(MsgID(r.ID, r.Attempt) + "-r"), nil
}

// subjectKindClass reads proofd.job.<kind>.<class>.
func subjectKindClass(subject string) (kind, class string) {
	parts := strings.Split(subject, ".")
	if len(parts) != 4 {
		return queue.KindSnark, queue.DefaultClass
	}
	return parts[2], parts[3]
}

type poison struct{ why string }

func (p *poison) Error() string { return p.why }
func (p *poison) Unwrap() error { return pool.ErrPoisonRequest }

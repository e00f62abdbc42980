package queue

import (
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/engine"
	"github.com/proofd/proofd/engine/pool"
	queuev1 "github.com/proofd/proofd/proto/queuev1"
)

// WireVersion is the version of the job and result messages.
const WireVersion = 1

// Bounds on the names a message carries. IDs and node names become NATS
// subject tokens, so they are checked to be tokens.
const (
	MaxIDLen   = 512
	MaxNodeLen = 64
	MaxNameLen = 256
	MaxTextLen = 4096 // a failure's message
)

// Job is a job as it travels: Prove or Verify is set, their artifacts
// carrying digests only (Data nil).
type Job struct {
	Node   string // answered on the node's result subject
	Prove  *Prove
	Verify *Verify
}

// ID is the job's name.
func (j Job) ID() string {
	if j.Prove != nil {
		return j.Prove.ID
	}
	return j.Verify.ID
}

// Attempt is the node's attempt.
func (j Job) Attempt() int {
	if j.Prove != nil {
		return j.Prove.Attempt
	}
	return j.Verify.Attempt
}

// Result answers one attempt of a job: Proved, Verdict or Err is set.
type Result struct {
	ID      string
	Attempt int
	Worker  string
	Took    time.Duration
	Proved  *Proved
	Verdict *engine.VerifyResult
	Err     error // *engine.InputError, wrapping pool.ErrPoisonRequest, or retryable
}

// EncodeJob is the job's wire form.
func EncodeJob(j Job) ([]byte, error) {
	m := &queuev1.Job{Version: WireVersion, Node: j.Node}
	switch {
	case j.Prove != nil:
		p := j.Prove
		m.Id, m.Attempt = p.ID, uint32(p.Attempt)
		call := &queuev1.ProveCall{Name: p.Name, Ccs: p.CCS.Digest[:], Pk: p.PK.Digest[:], Witness: p.Witness, Target: p.Target}
		if p.VK != nil {
			call.Vk = p.VK.Digest[:]
		}
		m.Call = &queuev1.Job_Prove{Prove: call}
	case j.Verify != nil:
		v := j.Verify
		m.Id, m.Attempt = v.ID, uint32(v.Attempt)
		m.Call = &queuev1.Job_Verify{Verify: &queuev1.VerifyCall{Name: v.Name, Vk: v.VK.Digest[:], Proof: v.Proof, PublicWitness: v.Public, Target: v.Target}}
	default:
		return nil, errors.New("queue: a job needs Prove or Verify")
	}
	if err := checkJob(m); err != nil {
		return nil, err
	}
	return proto.Marshal(m)
}

// DecodeJob reads a job's wire form; every problem is an error that names
// the field.
func DecodeJob(data []byte) (Job, error) {
	var m queuev1.Job
	if err := proto.Unmarshal(data, &m); err != nil {
		return Job{}, fmt.Errorf("job: %w", err)
	}
	if err := checkJob(&m); err != nil {
		return Job{}, err
	}
	j := Job{Node: m.GetNode()}
	digest := func(b []byte) artifact.Artifact {
		var a artifact.Artifact
		copy(a.Digest[:], b)
		return a
	}
	switch c := m.GetCall().(type) {
	case *queuev1.Job_Prove:
		p := c.Prove
		j.Prove = &Prove{ID: m.GetId(), Attempt: int(m.GetAttempt()), Name: p.GetName(),
			CCS: digest(p.GetCcs()), PK: digest(p.GetPk()), Witness: p.GetWitness(), Target: p.GetTarget()}
		if len(p.GetVk()) > 0 {
			vk := digest(p.GetVk())
			j.Prove.VK = &vk
		}
	case *queuev1.Job_Verify:
		v := c.Verify
		j.Verify = &Verify{ID: m.GetId(), Attempt: int(m.GetAttempt()), Name: v.GetName(), VK: digest(v.GetVk()),
			Proof: v.GetProof(), Public: v.GetPublicWitness(), Target: v.GetTarget()}
	}
	return j, nil
}

func checkJob(m *queuev1.Job) error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("job: %s: %s", field, fmt.Sprintf(format, args...)))
	}
	if m.GetVersion() != WireVersion {
		bad("version", "%d, this proofd speaks %d", m.GetVersion(), WireVersion)
	}
	if err := CheckToken(m.GetId(), MaxIDLen); err != nil {
		bad("id", "%v", err)
	}
	if err := CheckToken(m.GetNode(), MaxNodeLen); err != nil {
		bad("node", "%v", err)
	}
	if m.GetAttempt() == 0 {
		bad("attempt", "0: attempts count from 1")
	}
	digest := func(field string, b []byte) {
		if len(b) != len(artifact.Digest{}) {
			bad(field, "%d bytes, want a %d-byte digest", len(b), len(artifact.Digest{}))
		}
	}
	name := func(field, s string) {
		if len(s) > MaxNameLen {
			bad(field, "%d bytes, at most %d", len(s), MaxNameLen)
		}
	}
	switch c := m.GetCall().(type) {
	case *queuev1.Job_Prove:
		p := c.Prove
		name("prove.name", p.GetName())
		name("prove.target", p.GetTarget())
		digest("prove.ccs", p.GetCcs())
		digest("prove.pk", p.GetPk())
		if len(p.GetVk()) > 0 {
			digest("prove.vk", p.GetVk())
		}
		if len(p.GetWitness()) == 0 {
			bad("prove.witness", "empty")
		}
	case *queuev1.Job_Verify:
		v := c.Verify
		name("verify.name", v.GetName())
		name("verify.target", v.GetTarget())
		digest("verify.vk", v.GetVk())
		if len(v.GetProof()) == 0 {
			bad("verify.proof", "empty")
		}
	default:
		bad("call", "neither prove nor verify")
	}
	return errors.Join(errs...)
}

// CheckToken reports why s cannot be a NATS subject token of at most max
// bytes: the token alphabet here is letters, digits, '-' and '_'.
func CheckToken(s string, max int) error {
	if s == "" {
		return errors.New("empty")
	}
	if len(s) > max {
		return fmt.Errorf("%d bytes, at most %d", len(s), max)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("byte %d is %q: want letters, digits, '-' or '_'", i, c)
		}
	}
	return nil
}

// EncodeResult is the result's wire form.
func EncodeResult(r Result) ([]byte, error) {
	m := &queuev1.Result{Id: r.ID, Attempt: uint32(r.Attempt), Worker: r.Worker, TookNs: int64(r.Took)}
	switch {
	case r.Err != nil:
		f := &queuev1.Failure{Code: queuev1.Code_CODE_RETRYABLE, Message: truncate(r.Err.Error(), MaxTextLen)}
		var in *engine.InputError
		switch {
		case errors.Is(r.Err, pool.ErrPoisonRequest):
			f.Code = queuev1.Code_CODE_POISON
		case errors.As(r.Err, &in):
			f.Code, f.Input, f.Message = queuev1.Code_CODE_BAD_INPUT, truncate(in.Input, MaxNameLen), truncate(in.Reason, MaxTextLen)
		}
		m.Outcome = &queuev1.Result_Failure{Failure: f}
	case r.Proved != nil:
		m.Outcome = &queuev1.Result_Proof{Proof: &queuev1.Proof{Proof: r.Proved.Proof, PublicWitness: r.Proved.Public}}
	case r.Verdict != nil:
		m.Outcome = &queuev1.Result_Verdict{Verdict: &queuev1.Verdict{Valid: r.Verdict.Valid, Reason: truncate(r.Verdict.Reason, MaxTextLen)}}
	default:
		return nil, errors.New("queue: a result needs Proved, Verdict or Err")
	}
	if err := checkResult(m); err != nil {
		return nil, err
	}
	return proto.Marshal(m)
}

// DecodeResult reads a result's wire form.
func DecodeResult(data []byte) (Result, error) {
	var m queuev1.Result
	if err := proto.Unmarshal(data, &m); err != nil {
		return Result{}, fmt.Errorf("result: %w", err)
	}
	if err := checkResult(&m); err != nil {
		return Result{}, err
	}
	r := Result{ID: m.GetId(), Attempt: int(m.GetAttempt()), Worker: m.GetWorker(), Took: time.Duration(m.GetTookNs())}
	switch o := m.GetOutcome().(type) {
	case *queuev1.Result_Proof:
		r.Proved = &Proved{Proof: o.Proof.GetProof(), Public: o.Proof.GetPublicWitness(), Took: r.Took}
	case *queuev1.Result_Verdict:
		r.Verdict = &engine.VerifyResult{Valid: o.Verdict.GetValid(), Reason: o.Verdict.GetReason()}
	case *queuev1.Result_Failure:
		f := o.Failure
		switch f.GetCode() {
		case queuev1.Code_CODE_BAD_INPUT:
			r.Err = &engine.InputError{Op: "worker " + r.Worker, Input: f.GetInput(), Reason: f.GetMessage()}
		case queuev1.Code_CODE_POISON:
			r.Err = fmt.Errorf("worker %s: %w: %s", r.Worker, pool.ErrPoisonRequest, f.GetMessage())
		default:
			r.Err = fmt.Errorf("worker %s: %s", r.Worker, f.GetMessage())
		}
	}
	return r, nil
}

func checkResult(m *queuev1.Result) error {
	var errs []error
	if err := CheckToken(m.GetId(), MaxIDLen); err != nil {
		errs = append(errs, fmt.Errorf("result: id: %w", err))
	}
	if m.GetAttempt() == 0 {
		errs = append(errs, errors.New("result: attempt: 0: attempts count from 1"))
	}
	if len(m.GetWorker()) > MaxNameLen {
		errs = append(errs, fmt.Errorf("result: worker: %d bytes, at most %d", len(m.GetWorker()), MaxNameLen))
	}
	if m.GetTookNs() < 0 {
		errs = append(errs, fmt.Errorf("result: took_ns: %d is negative", m.GetTookNs()))
	}
	switch o := m.GetOutcome().(type) {
	case *queuev1.Result_Proof:
		if len(o.Proof.GetProof()) == 0 {
			errs = append(errs, errors.New("result: proof.proof: empty"))
		}
	case *queuev1.Result_Verdict:
	case *queuev1.Result_Failure:
		f := o.Failure
		if _, ok := queuev1.Code_name[int32(f.GetCode())]; !ok || f.GetCode() == queuev1.Code_CODE_UNSPECIFIED {
			errs = append(errs, fmt.Errorf("result: failure.code: %d is not a known code", f.GetCode()))
		}
		if len(f.GetMessage()) > MaxTextLen || len(f.GetInput()) > MaxNameLen {
			errs = append(errs, errors.New("result: failure: message or input too long"))
		}
	default:
		errs = append(errs, errors.New("result: outcome: none of proof, verdict, failure"))
	}
	return errors.Join(errs...)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

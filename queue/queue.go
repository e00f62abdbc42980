package queue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/engine"
	"github.com/proofd/proofd/engine/pool"
	"github.com/proofd/proofd/engine/snarkclient"
)

// DefaultClass is the resource class of a job that names none: any
// worker's CPU engines can run it.
const DefaultClass = "cpu"

// KindSnark is the engine kind of the SNARK jobs (the gnark engine).
const KindSnark = "snark"

// Prove asks for a proof; when VK is set, for a proof that verifies under
// it (the proof is checked where it was made, before it is answered).
type Prove struct {
	ID      string // the receipt key, hex (receipts.Key.String())
	Attempt int    // the node's attempt, from 1
	Class   string // resource class; "" is DefaultClass
	Name    string // the circuit's name, for logs and errors
	CCS, PK artifact.Artifact
	VK      *artifact.Artifact
	Witness []byte
	Target  string // snarkclient's target names
}

// Verify asks whether a proof holds.
type Verify struct {
	ID      string // VerifyID of the inputs, unless the caller names it
	Attempt int
	Class   string
	Name    string
	VK      artifact.Artifact
	Proof   []byte
	Public  []byte
	Target  string
}

// Proved is a proof and how long the engine took to make (and check) it.
type Proved struct {
	Proof, Public []byte
	Took          time.Duration
}

// VerifyID names a verification by its inputs.
func VerifyID(vk artifact.Digest, proof, public []byte, target string) string {
	h := sha256.New()
	h.Write([]byte("proofd/verify/v1"))
	h.Write(vk[:])
	for _, b := range [][]byte{proof, public, []byte(target)} {
		var n [8]byte
		for i, l := 0, uint64(len(b)); i < 8; i++ {
			n[i] = byte(l >> (8 * i))
		}
		h.Write(n[:])
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Pool runs a call on a pooled engine, preferring one that holds affinity
// (pool.Factory).
type Pool interface {
	DoLease(ctx context.Context, affinity []artifact.Digest, fn func(*pool.Lease) error) error
}

// Local runs jobs on an engine pool of this machine: one node's default,
// and what a worker runs the jobs it pulls on.
type Local struct{ Pool Pool }

// Prove makes the job's proof on the pool and, when the job carries a VK,
// verifies it there; a proof that does not verify is a retryable error.
func (l Local) Prove(ctx context.Context, j Prove) (*Proved, error) {
	start := time.Now()
	var res *snarkclient.ProveResult
	err := l.Pool.DoLease(ctx, []artifact.Digest{j.CCS.Digest, j.PK.Digest}, func(le *pool.Lease) (err error) {
		res, err = snarkclient.New(le.Conn).Prove(ctx, snarkclient.ProveRequest{Name: j.Name, CCS: j.CCS, PK: j.PK, Witness: j.Witness, Target: j.Target})
		if err == nil {
			le.Holds(j.CCS.Digest, j.PK.Digest)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if j.VK != nil {
		v, err := l.Verify(ctx, Verify{Name: j.Name, VK: *j.VK, Proof: res.Proof, Public: res.Public, Target: j.Target})
		if err != nil {
			return nil, fmt.Errorf("the new proof: %w", err)
		}
		if !v.Valid {
			return nil, fmt.Errorf("the new %s proof does not verify: %s", j.Name, v.Reason)
		}
	}
	return &Proved{Proof: res.Proof, Public: res.Public, Took: time.Since(start)}, nil
}

// Verify checks the proof on the pool.
func (l Local) Verify(ctx context.Context, j Verify) (*engine.VerifyResult, error) {
	var res *engine.VerifyResult
	err := l.Pool.DoLease(ctx, []artifact.Digest{j.VK.Digest}, func(le *pool.Lease) (err error) {
		res, err = snarkclient.New(le.Conn).Verify(ctx, snarkclient.VerifyRequest{Name: j.Name, VK: j.VK, Proof: j.Proof, Public: j.Public, Target: j.Target})
		return err
	})
	return res, err
}

// IsPermanent reports whether retrying err cannot help: bad input, or a
// poison job.
func IsPermanent(err error) bool {
	var in *engine.InputError
	return errors.As(err, &in) || errors.Is(err, pool.ErrPoisonRequest)
}

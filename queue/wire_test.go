package queue

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/engine"
	"github.com/proofd/proofd/engine/pool"
)

func sampleJobs() []Job {
	ccs, pk, vk := artifact.New([]byte("c")), artifact.New([]byte("p")), artifact.New([]byte("v"))
	return []Job{
		{Node: "node-1", Prove: &Prove{ID: "00ff", Attempt: 2, Name: "rollup-tx", CCS: ccs, PK: pk, VK: &vk, Witness: []byte{1, 2}, Target: "bn254"}},
		{Node: "n", Prove: &Prove{ID: "01", Attempt: 1, CCS: ccs, PK: pk, Witness: []byte{1}}},
		{Node: "n_2", Verify: &Verify{ID: VerifyID(vk.Digest, []byte{9}, nil, ""), Attempt: 1, VK: vk, Proof: []byte{9}}},
	}
}

func TestJobRoundTrip(t *testing.T) {
	for _, j := range sampleJobs() {
		data, err := EncodeJob(j)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeJob(data)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID() != j.ID() || got.Attempt() != j.Attempt() || got.Node != j.Node {
			t.Fatalf("round trip: %+v != %+v", got, j)
		}
		if j.Prove != nil && (got.Prove.CCS.Digest != j.Prove.CCS.Digest || got.Prove.CCS.Data != nil || (j.Prove.VK == nil) != (got.Prove.VK == nil) || !bytes.Equal(got.Prove.Witness, j.Prove.Witness)) {
			t.Fatalf("prove call: %+v", got.Prove)
		}
	}
}

func TestResultKeepsErrorClass(t *testing.T) {
	cases := []struct {
		err       error
		permanent bool
		poison    bool
	}{
		{&engine.InputError{Op: "prove", Input: "witness", Reason: "too short"}, true, false},
		{&pool.PoisonError{Deaths: 2}, true, true},
		{errors.New("engine busy"), false, false},
	}
	for _, c := range cases {
		data, err := EncodeResult(Result{ID: "ab", Attempt: 3, Worker: "w1", Err: c.err})
		if err != nil {
			t.Fatal(err)
		}
		r, err := DecodeResult(data)
		if err != nil {
			t.Fatal(err)
		}
		if IsPermanent(r.Err) != c.permanent || errors.Is(r.Err, pool.ErrPoisonRequest) != c.poison || r.Attempt != 3 {
			t.Fatalf("%v came back as %v", c.err, r.Err)
		}
	}
}

func TestDecodeJobNamesTheField(t *testing.T) {
	j := sampleJobs()[0]
	j.Node = "a.b" // would be two subject tokens
	if _, err := EncodeJob(j); err == nil || !strings.Contains(err.Error(), "job: node") {
		t.Fatalf("got %v", err)
	}
	if _, err := DecodeJob([]byte{0xff, 0xff}); err == nil || !strings.HasPrefix(err.Error(), "job:") {
		t.Fatalf("got %v", err)
	}
	if _, err := DecodeJob(nil); err == nil || !strings.Contains(err.Error(), "version") || !strings.Contains(err.Error(), "call") {
		t.Fatalf("an empty job: %v", err)
	}
}

// FuzzDecodeJob: any bytes decode to a checked job or an error, and a job
// that decodes encodes back to one that decodes the same.
func FuzzDecodeJob(f *testing.F) {
	for _, j := range sampleJobs() {
		data, _ := EncodeJob(j)
		f.Add(data)
	}
	f.Add([]byte{})
	f.Add([]byte{0x12, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, data []byte) {
		j, err := DecodeJob(data)
		if err != nil {
			return
		}
		again, err := EncodeJob(j)
		if err != nil {
			t.Fatalf("a decoded job does not encode: %v", err)
		}
		j2, err := DecodeJob(again)
		if err != nil || j2.ID() != j.ID() || j2.Attempt() != j.Attempt() || j2.Node != j.Node {
			t.Fatalf("re-decode: %v", err)
		}
	})
}

// FuzzDecodeResult: any bytes decode to a checked result or an error.
func FuzzDecodeResult(f *testing.F) {
	for _, r := range []Result{
		{ID: "ab", Attempt: 1, Proved: &Proved{Proof: []byte{1}}},
		{ID: "ab", Attempt: 2, Verdict: &engine.VerifyResult{Valid: true}},
		{ID: "ab", Attempt: 1, Err: &engine.InputError{Input: "w", Reason: "r"}},
	} {
		data, _ := EncodeResult(r)
		f.Add(data)
	}
	f.Add([]byte{0x0a, 0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeResult(data)
		if err != nil {
			return
		}
		n := 0
		for _, set := range []bool{r.Proved != nil, r.Verdict != nil, r.Err != nil} {
			if set {
				n++
			}
		}
		if n != 1 || r.Attempt < 1 || CheckToken(r.ID, MaxIDLen) != nil {
			t.Fatalf("a decoded result breaks its invariants: %+v", r)
		}
	})
}

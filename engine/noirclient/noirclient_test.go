package noirclient_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/bb/bbengine"
	"github.com/proofd/proofd/bb/bbtest"
	"github.com/proofd/proofd/engine"
	"github.com/proofd/proofd/engine/enginetest"
	"github.com/proofd/proofd/engine/noirclient"
)

func TestMain(m *testing.M) { enginetest.Main(m) }

func client(t *testing.T) *noirclient.Client {
	t.Helper()
	e, err := bbengine.New(nil, bbengine.Options{BB: bbtest.BB(t), Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Stop() })
	return noirclient.New(enginetest.InProcess(t, e.Config()))
}

// TestUploadsOnlyWhatTheEngineLacks: the circuit goes up with the first
// call; after it, a call naming the circuit and the key by digest alone
// (no bytes to upload) succeeds, and one naming an artifact the engine
// never saw fails saying so.
func TestUploadsOnlyWhatTheEngineLacks(t *testing.T) {
	c := client(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fx := bbtest.Load(t, "tiny")
	circuit := artifact.New(fx.ACIR)
	p, err := c.Prove(ctx, noirclient.ProveRequest{Circuit: circuit, Witness: fx.Witness, WithVK: true})
	if err != nil {
		t.Fatal(err)
	}
	if p.VK.Data == nil || artifact.New(p.VK.Data).Digest != p.VK.Digest || len(p.Public) != 32 {
		t.Fatalf("prove: vk %d bytes (digest matches: %v), %d public bytes", len(p.VK.Data), artifact.New(p.VK.Data).Digest == p.VK.Digest, len(p.Public))
	}
	if !hasStage(p.Timings, "prove") || !hasStage(p.Timings, "download_vk") {
		t.Errorf("prove timings %v lack prove or download_vk", p.Timings)
	}
	digestOnly := func(a artifact.Artifact) artifact.Artifact { return artifact.Artifact{Digest: a.Digest} }
	v, err := c.Verify(ctx, noirclient.VerifyRequest{VK: digestOnly(p.VK), Proof: p.Proof, Public: p.Public})
	if err != nil || !v.Valid {
		t.Fatalf("verify by the resident key's digest: %+v, %v", v, err)
	}
	if _, err := c.Stats(ctx, "", digestOnly(circuit)); err != nil {
		t.Fatalf("stats by the resident circuit's digest: %v", err)
	}
	unknown := artifact.New([]byte("a key the engine never saw"))
	if _, err := c.Verify(ctx, noirclient.VerifyRequest{VK: digestOnly(unknown), Proof: p.Proof, Public: p.Public}); err == nil || !strings.Contains(err.Error(), "lacks artifact") {
		t.Fatalf("verify with an unknown key and no bytes: %v", err)
	}
	var ie *engine.InputError
	if _, err := c.Prove(ctx, noirclient.ProveRequest{Circuit: circuit, Witness: fx.Witness, OracleHash: "sha3"}); !errors.As(err, &ie) || ie.Input != "oracle_hash" {
		t.Fatalf("unknown oracle hash: %v", err)
	}
}

func hasStage(ts []engine.Timing, stage string) bool {
	for _, t := range ts {
		if t.Stage == stage {
			return true
		}
	}
	return false
}

package cli_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/proofd/proofd/receipts"
)

// TestReceiptsCommands: stats, get (a hit, a miss, the proof written out)
// and prune on a store written through the receipts package.
func TestReceiptsCommands(t *testing.T) {
	dir := t.TempDir()
	s, err := receipts.Open(dir, receipts.Options{})
	if err != nil {
		t.Fatal(err)
	}
	key := func(cp uint64, kind receipts.Kind, idx uint64) receipts.Key {
		return receipts.Key{Checkpoint: cp, Block: [32]byte{byte(cp)}, Kind: kind, Image: [32]byte{9},
			Statement: receipts.StatementDigest(receipts.Field{Name: "i", Value: []byte(fmt.Sprint(cp, idx))}), Index: idx}
	}
	for cp := uint64(1); cp <= 3; cp++ {
		for i := range uint64(2) {
			if err := s.Put(context.Background(), key(cp, receipts.KindTx, i), receipts.Receipt{Proof: []byte("proof"), Public: []byte("pub")}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Put(context.Background(), key(cp, receipts.KindBatch, 0), receipts.Receipt{Proof: []byte("batch"), Public: []byte("pub")}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	stats := func() map[string]receipts.KindStats {
		var out map[string]receipts.KindStats
		r := mustRun(t, "receipts", "stats", "--data-dir", dir, "--json")
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
			t.Fatalf("stats --json: %v\n%s", err, r.stdout)
		}
		return out
	}
	if got := stats(); got["tx"].Receipts != 6 || got["batch"].Receipts != 3 || got["aggregate"].Receipts != 0 {
		t.Fatalf("stats = %+v, want 6 tx, 3 batch, 0 aggregate", got)
	}
	k := key(2, receipts.KindTx, 1)
	get := func(k receipts.Key, extra ...string) result {
		return proofd(t, append([]string{"receipts", "get", "--data-dir", dir, "--checkpoint", fmt.Sprint(k.Checkpoint),
			"--block", hex.EncodeToString(k.Block[:]), "--kind", k.Kind.String(), "--image", hex.EncodeToString(k.Image[:]),
			"--statement", hex.EncodeToString(k.Statement[:]), "--index", fmt.Sprint(k.Index)}, extra...)...)
	}
	proofPath := filepath.Join(t.TempDir(), "proof.bin")
	r := get(k, "--proof", proofPath)
	if r.code != 0 || !strings.Contains(r.stdout, hex.EncodeToString([]byte("proof"))) {
		t.Fatalf("get a stored receipt: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if b, err := os.ReadFile(proofPath); err != nil || string(b) != "proof" {
		t.Fatalf("--proof wrote %q, %v", b, err)
	}
	if r := get(key(2, receipts.KindTx, 7)); r.code != 1 || !strings.Contains(r.stderr, "no receipt") {
		t.Fatalf("get a missing receipt: exit %d, stderr %q; want 1 and no receipt", r.code, r.stderr)
	}
	mustRun(t, "receipts", "prune", "--data-dir", dir, "--through", "2")
	if got := stats(); got["tx"].Receipts != 2 || got["batch"].Receipts != 1 {
		t.Fatalf("after prune --through 2: %+v, want checkpoint 3's 2 tx and 1 batch", got)
	}
	if r := get(k); r.code != 1 {
		t.Fatalf("a pruned receipt: exit %d, want 1", r.code)
	}
	if r := proofd(t, "receipts", "stats", "--data-dir", filepath.Join(dir, "typo")); r.code != 2 || !strings.Contains(r.stderr, "no receipt store") {
		t.Fatalf("stats of a directory with no store: exit %d, stderr %q", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "typo")); err == nil {
		t.Error("stats of a mistyped --data-dir created it")
	}
}

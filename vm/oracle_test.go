package vm

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
)

// TestOraclesAgree runs the preimage guest with the KV oracle and with the
// test binary as a preimage server: same proofs at the preimage reads,
// same final claim, and the hints the guest sent.
func TestOraclesAgree(t *testing.T) {
	local, keccak := pickReads(t, preimageReads(t))
	steps := []uint64{local.step, keccak.step}

	kv := NewKVOracle(guestKV()).(*KVOracle)
	kvProofs, kvClaim := proveAt(t, kv, steps)

	po, err := StartProcessOracle(context.Background(), serverArgv(t, "kv"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	poProofs, poClaim := proveAt(t, po, steps)
	if err := po.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}

	if poClaim != kvClaim {
		t.Errorf("final claim with the server %s, with the KV oracle %s", poClaim, kvClaim)
	}
	for i := range steps {
		if !bytes.Equal(poProofs[i], kvProofs[i]) {
			t.Errorf("proof at step %d with the server:\n%s\nwith the KV oracle:\n%s", steps[i], poProofs[i], kvProofs[i])
		}
		if !bytes.Contains(kvProofs[i], []byte(`"oracle-key"`)) {
			t.Errorf("proof at step %d has no oracle key:\n%s", steps[i], kvProofs[i])
		}
	}
	wantHints := []string{"input", "keccak " + hex.EncodeToString(crypto.Keccak256(guestInput))}
	var gotHints []string
	for _, h := range kv.Hints() {
		gotHints = append(gotHints, string(h))
	}
	if !slices.Equal(gotHints, wantHints) {
		t.Errorf("hints %q, want %q", gotHints, wantHints)
	}
}

// proveAt runs the preimage guest with proofs at steps, then to the end.
func proveAt(t *testing.T, oracle Oracle, steps []uint64) ([][]byte, [32]byte) {
	t.Helper()
	st := loadELF(t, preimageELF)
	m := NewMachine(st, oracle, nil, nil, nil)
	var proofs [][]byte
	for _, s := range steps {
		if err := m.RunTo(context.Background(), s); err != nil {
			t.Fatal(err)
		}
		p, err := m.StepWithProof()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := EncodeJSON(p)
		proofs = append(proofs, b)
	}
	if err := m.RunTo(context.Background(), ^uint64(0)); err != nil {
		t.Fatal(err)
	}
	return proofs, Claim(st)
}

func TestMissingPreimageIsAnError(t *testing.T) {
	for _, tc := range []struct {
		name   string
		oracle Oracle
		want   error
	}{
		{"unknown key", NewKVOracle(nil), ErrUnknownPreimage},
		{"no oracle", nil, ErrNoOracle},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMachine(loadELF(t, preimageELF), tc.oracle, nil, nil, nil)
			err := m.RunTo(context.Background(), ^uint64(0))
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), "step ") {
				t.Fatalf("RunTo: %v, want an error naming the step and wrapping %v", err, tc.want)
			}
			if _, err := m.StepWithProof(); !errors.Is(err, ErrBroken) {
				t.Errorf("StepWithProof after the failure: %v, want ErrBroken", err)
			}
		})
	}
}

// TestProcessOracleCancel: a server that never answers, with a grandchild
// in its process group, is killed as a group when the context is canceled,
// and the step blocked on it returns the cancellation.
func TestProcessOracleCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	po, err := StartProcessOracle(ctx, serverArgv(t, "hang"), pw, nil)
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pr)
	grandchild, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("server printed %q, want the grandchild's pid", line)
	}

	m := NewMachine(loadELF(t, preimageELF), po, nil, nil, nil)
	var wg sync.WaitGroup
	wg.Go(func() {
		time.Sleep(200 * time.Millisecond)
		cancel()
	})
	err = m.RunTo(ctx, ^uint64(0))
	wg.Wait()
	if !errors.Is(err, context.Canceled) {
		t.Errorf("RunTo: %v, want context.Canceled", err)
	}
	if err := po.Close(); err != nil {
		t.Errorf("Close after cancel: %v", err)
	}
	pw.Close()
	waitGone(t, grandchild)
}

// TestProcessOracleServerFails: a server that exits at once fails the step
// with its exit status, and Close reports it.
func TestProcessOracleServerFails(t *testing.T) {
	po, err := StartProcessOracle(context.Background(), serverArgv(t, "exit3"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := NewMachine(loadELF(t, preimageELF), po, nil, nil, nil)
	err = m.RunTo(context.Background(), ^uint64(0))
	if err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("RunTo: %v, want the server's exit status 3", err)
	}
	if err := po.Close(); err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("Close: %v, want exit status 3", err)
	}
	if err := po.Close(); err == nil {
		t.Error("second Close: nil, want the same error")
	}
}

func TestStartProcessOracleErrors(t *testing.T) {
	for _, argv := range [][]string{nil, {""}, {filepath.Join(t.TempDir(), "no-such-server")}} {
		if po, err := StartProcessOracle(context.Background(), argv, nil, nil); err == nil {
			po.Close()
			t.Errorf("StartProcessOracle(%q): no error", argv)
		}
	}
}

// waitGone waits for pid to die. It is not our child: once dead it is a
// zombie until whoever inherited it reaps it, which counts as gone.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	for range 200 {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil {
			if f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:])); len(f) > 0 && f[0] == "Z" {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("grandchild %d outlived its server's process group", pid)
}

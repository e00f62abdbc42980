package cli_test

import (
	"bufio"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/proofd/proofd/engine/enginetest"
	"github.com/proofd/proofd/internal/crashpoint"
	"github.com/proofd/proofd/pipeline"
	"github.com/proofd/proofd/receipts"
)

var provedLine = regexp.MustCompile(`proved (.+) in [0-9.]+ s$`)

// durableJobs lists the jobs whose receipts are in the store under dir.
func durableJobs(t *testing.T, dir string) map[string]bool {
	t.Helper()
	path := filepath.Join(dir, "receipts")
	if _, err := os.Stat(path); err != nil {
		return map[string]bool{}
	}
	st, err := receipts.Open(path, receipts.Options{MustExist: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	jobs := map[string]bool{}
	err = st.Keys(func(k receipts.Key) error {
		id := pipeline.JobID{Stage: pipeline.Stage(k.Kind - receipts.KindTx), Height: k.Checkpoint, Block: k.Block}
		if k.Kind == receipts.KindTx {
			id.Index = int(k.Index)
		}
		jobs[id.String()] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return jobs
}

// demoRun runs the demo on dir until it ends or, with killAfter > 0, until
// it has printed killAfter lines matching kill, when it gets SIGKILL. It
// fails the test if the run proves a job that was durable when it started.
func demoRun(t *testing.T, bin, dir string, env []string, kill *regexp.Regexp, killAfter int) (stdout string, killed bool) {
	t.Helper()
	durable := durableJobs(t, dir)
	cmd := exec.Command(bin, "demo", "--data-dir", dir, "--blocks", "4", "--txs-per-block", "1", "--bundle-size", "2",
		"--reorgs", "1", "--depth", "4", "--engines", "1", "--seed", "5", "--json")
	cmd.Env = append(os.Environ(), env...)
	var out strings.Builder
	cmd.Stdout = &out
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(errPipe)
	seen := 0
	var tail []string
	for sc.Scan() {
		line := sc.Text()
		tail = append(tail, line)
		if m := provedLine.FindStringSubmatch(line); m != nil && durable[m[1]] {
			t.Errorf("proved %s again: its receipt was durable before this run", m[1])
		}
		if kill != nil && kill.MatchString(line) {
			if seen++; seen == killAfter {
				cmd.Process.Kill() // SIGKILL
				killed = true
			}
		}
	}
	err = cmd.Wait()
	if !killed && err != nil && !strings.Contains(err.Error(), "killed") {
		t.Fatalf("demo: %v\n%s", err, strings.Join(tail, "\n"))
	}
	if err != nil && strings.Contains(err.Error(), "killed") {
		killed = true
	}
	return out.String(), killed
}

func TestDemoSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("proves a small chain five times over, BW6-761 setup included (~2 min)")
	}
	bin := enginetest.Proofd(t)
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(7, 7))
	proved := regexp.MustCompile(`proved `)
	points := []struct {
		name      string
		env       []string
		kill      *regexp.Regexp
		killAfter int
	}{
		{"during setup", nil, regexp.MustCompile(`tx circuit ready`), 1},
		{"during a durable receipt write", []string{crashpoint.Env + "=3"}, nil, 0},
		{"after a proof", nil, proved, 1 + rng.IntN(2)},
		{"after a block", nil, regexp.MustCompile(`block .* at height`), 2 + rng.IntN(3)},
		{"after a reorg", nil, regexp.MustCompile(`reorg: `), 1},
		{"after another proof", nil, proved, 1 + rng.IntN(3)},
	}
	kills := 0
	for _, p := range points {
		_, killed := demoRun(t, bin, dir, p.env, p.kill, p.killAfter)
		t.Logf("kill point %q: killed %v", p.name, killed)
		if killed {
			kills++
		}
	}
	if kills < 5 {
		t.Errorf("only %d of %d runs were killed", kills, len(points))
	}
	out, _ := demoRun(t, bin, dir, nil, nil, 0)
	var sum struct {
		FinalVerified bool           `json:"final_verified"`
		ProofsMade    map[string]int `json:"proofs_made"`
		Blocks        int            `json:"blocks"`
	}
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("final run's JSON: %v\n%s", err, out)
	}
	if !sum.FinalVerified || sum.Blocks != 4 {
		t.Fatalf("final run: %s", out)
	}
	var keys map[string]any
	json.Unmarshal([]byte(out), &keys)
	for _, k := range []string{"blocks", "txs", "proofs_made", "cache_hits", "reorgs", "retries", "final_verified"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("the demo's JSON lacks %q: %s", k, out)
		}
	}
	// And once more: nothing left to prove.
	out, _ = demoRun(t, bin, dir, nil, nil, 0)
	if !strings.Contains(out, `"proofs_made":{"tx":0,"batch":0,"aggregate":0}`) {
		t.Errorf("a run over a finished chain made proofs: %s", out)
	}
}

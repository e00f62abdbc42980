package bbengine

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// EnvBB names the bb binary when no --bb flag does.
const EnvBB = "PROOFD_BB"

// CachePath is where scripts/install-bb.sh puts the pinned bb, relative to
// the repository root.
const CachePath = ".cache/bb/5.0.0/bb"

// Locate finds the bb binary: flag when set, else $PROOFD_BB, else the
// project cache (CachePath under the proofd repository that holds the
// working directory, when there is one and bb is installed there), else
// `bb` on $PATH. from says which.
func Locate(flag string) (path, from string, err error) {
	if flag != "" {
		return flag, "--bb", nil
	}
	if p := os.Getenv(EnvBB); p != "" {
		return p, "$" + EnvBB, nil
	}
	if root, ok := RepoRoot(); ok {
		p := filepath.Join(root, CachePath)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, "the project cache", nil
		}
	}
	if p, err := exec.LookPath("bb"); err == nil {
		return p, "$PATH", nil
	}
	return "", "", errors.New("no bb: pass --bb PATH, set $" + EnvBB + ", run scripts/install-bb.sh in the proofd repository, or put bb on $PATH")
}

// RepoRoot is the proofd repository holding the working directory: the
// nearest directory up whose go.mod declares module github.com/proofd/proofd.
func RepoRoot() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if isProofdModule(filepath.Join(dir, "go.mod")) {
			return dir, true
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", false
		}
		dir = up
	}
}

func isProofdModule(gomod string) bool {
	f, err := os.Open(gomod)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); strings.HasPrefix(line, "module ") {
			return strings.TrimSpace(strings.TrimPrefix(line, "module ")) == "github.com/proofd/proofd"
		}
	}
	return false
}

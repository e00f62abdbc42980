package debugrec

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
)

// EnvDir is the environment variable that turns recording on.
const EnvDir = "PROOFD_DEBUG_DIR"

// File is one named input or output of a call.
type File struct {
	Name string
	Data []byte
}

// Recorder writes one directory per call under its root.
type Recorder struct {
	root   string
	proofd string
	seqMu  sync.Mutex
	seq    uint64
	mkdir  sync.Once
	mkErr  error
}

// FromEnv returns a recorder for $PROOFD_DEBUG_DIR, or nil when it is unset.
func FromEnv() *Recorder {
	dir := os.Getenv(EnvDir)
	if dir == "" {
		return nil
	}
	return New(dir)
}

// New records into dir. command.sh runs $PROOFD if set, else the running
// executable when it is proofd, else `proofd` from PATH.
func New(dir string) *Recorder {
	bin := "proofd"
	if exe, err := os.Executable(); err == nil && filepath.Base(exe) == "proofd" {
		bin = exe
	}
	return &Recorder{root: dir, proofd: bin}
}

// Call is one recorded engine call.
type Call struct {
	dir string
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// Begin writes the call's inputs and its command.sh. args are the proofd CLI
// arguments that redo the call, relative to the call directory; outputs
// should be written under replay/.
func (r *Recorder) Begin(op, name string, inputs []File, args []string) (*Call, error) {
	return r.begin(op, name, inputs, func(n uint64) string { return r.script(n, op, args) })
}

// BeginScript is Begin for a call that another program replays (the bb CLI
// for the bb engine): body is the shell commands that redo the call. They
// run in the call directory under `set -e`, after replay/ is made and with
// $PROOFD set to the proofd binary (as for Begin), and should write only
// under replay/; about names what they run, for the script's header.
func (r *Recorder) BeginScript(op, name string, inputs []File, about, body string) (*Call, error) {
	return r.begin(op, name, inputs, func(n uint64) string {
		return fmt.Sprintf(`#!/bin/sh
# Replays recorded engine call %04d (%s) with %s.
# Outputs go to replay/; the engine's own answer is in output/.
set -e
cd "$(dirname "$0")"
mkdir -p replay
PROOFD="${PROOFD:-%s}"
%s`, n, op, about, r.proofd, body)
	})
}

func (r *Recorder) begin(op, name string, inputs []File, script func(n uint64) string) (*Call, error) {
	r.mkdir.Do(func() { r.mkErr = os.MkdirAll(r.root, 0o755) })
	if r.mkErr != nil {
		return nil, fmt.Errorf("debug recorder: %s: %w", r.root, r.mkErr)
	}
	n, err := r.reserve()
	if err != nil {
		return nil, err
	}
	name = unsafeName.ReplaceAllString(name, "_")
	if name == "" {
		name = "unnamed"
	}
	dir := filepath.Join(r.root, fmt.Sprintf("%04d-%s-%s", n, op, name))
	if err := os.MkdirAll(filepath.Join(dir, "output"), 0o755); err != nil {
		return nil, fmt.Errorf("debug recorder: %w", err)
	}
	for _, f := range inputs {
		if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644); err != nil {
			return nil, fmt.Errorf("debug recorder: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "command.sh"), []byte(script(n)), 0o755); err != nil {
		return nil, fmt.Errorf("debug recorder: %w", err)
	}
	return &Call{dir: dir}, nil
}

// reserve takes the next call number. Several processes may record into
// one directory (a CLI call, then another): numbers continue from what is
// there, and an exclusive-create marker settles races between writers.
func (r *Recorder) reserve() (uint64, error) {
	r.seqMu.Lock()
	defer r.seqMu.Unlock()
	if r.seq == 0 {
		entries, err := os.ReadDir(r.root)
		if err != nil {
			return 0, fmt.Errorf("debug recorder: %w", err)
		}
		for _, e := range entries {
			var n uint64
			if _, err := fmt.Sscanf(strings.TrimPrefix(e.Name(), "."), "%d", &n); err == nil && n > r.seq {
				r.seq = n
			}
		}
	}
	for range 10000 {
		r.seq++
		f, err := os.OpenFile(filepath.Join(r.root, fmt.Sprintf(".%04d", r.seq)), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err == nil {
			f.Close()
			return r.seq, nil
		}
		if !os.IsExist(err) {
			return 0, fmt.Errorf("debug recorder: %w", err)
		}
	}
	return 0, fmt.Errorf("debug recorder: %s: no free call number", r.root)
}

func (r *Recorder) script(n uint64, op string, args []string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = shellQuote(a)
	}
	return fmt.Sprintf(`#!/bin/sh
# Replays recorded engine call %04d (%s) with the proofd CLI.
# Set PROOFD to choose the binary; outputs go to replay/.
# The engine's own answer is in output/.
set -e
cd "$(dirname "$0")"
mkdir -p replay
exec "${PROOFD:-%s}" %s
`, n, op, r.proofd, strings.Join(quoted, " "))
}

// Dir is the call's directory.
func (c *Call) Dir() string { return c.dir }

// Finish writes the call's outputs and result (as output/result.json), or its
// error (as output/error.txt).
func (c *Call) Finish(outputs []File, result any, callErr error) error {
	out := filepath.Join(c.dir, "output")
	for _, f := range outputs {
		if err := os.WriteFile(filepath.Join(out, f.Name), f.Data, 0o644); err != nil {
			return fmt.Errorf("debug recorder: %w", err)
		}
	}
	if callErr != nil {
		return os.WriteFile(filepath.Join(out, "error.txt"), []byte(callErr.Error()+"\n"), 0o644)
	}
	if result == nil {
		return nil
	}
	b, err := json.MarshalIndent(result, "", "  ")
	if err != nil {
		return fmt.Errorf("debug recorder: %w", err)
	}
	return os.WriteFile(filepath.Join(out, "result.json"), append(b, '\n'), 0o644)
}

// ShellQuote quotes s for a POSIX shell, leaving plain words as they are.
func ShellQuote(s string) string { return shellQuote(s) }

func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`!*?[]{}()<>|&;#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

package bbtest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/proofd/proofd/bb/noirfile"
)

// Root is the repository root.
var Root = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}()

var (
	once     sync.Once
	bin, why string
)

// Need skips the test for want of what (or fails it under
// PROOFD_REQUIRE_BB=1).
func Need(tb testing.TB, what string) {
	tb.Helper()
	if os.Getenv("PROOFD_REQUIRE_BB") == "1" {
		tb.Fatalf("PROOFD_REQUIRE_BB=1 but %s", what)
	}
	tb.Skipf("skipped: %s", what)
}

// BB is the path of the real bb binary.
func BB(tb testing.TB) string {
	tb.Helper()
	once.Do(func() {
		if p := os.Getenv("PROOFD_BB"); p != "" {
			bin = p
			return
		}
		var stderr bytes.Buffer
		cmd := exec.Command(filepath.Join(Root, "scripts", "install-bb.sh"))
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			why = "scripts/install-bb.sh: " + err.Error() + ": " + stderr.String()
			return
		}
		bin = strings.TrimSpace(string(out))
	})
	if bin == "" {
		Need(tb, "no bb: "+why)
	}
	return bin
}

// Fixture is a Noir program of testdata/noir as bb takes it.
type Fixture struct {
	Name    string
	Dir     string // testdata/noir/NAME: circuit.json, witness.gz
	ACIR    []byte // the bytecode, gunzipped
	Witness []byte // gunzipped; nil when the fixture has none
}

// Load reads testdata/noir/name.
func Load(tb testing.TB, name string) Fixture {
	tb.Helper()
	dir := filepath.Join(Root, "testdata", "noir", name)
	acir, err := noirfile.Circuit(filepath.Join(dir, "circuit.json"))
	if err != nil {
		tb.Fatal(err)
	}
	fx := Fixture{Name: name, Dir: dir, ACIR: acir}
	if _, err := os.Stat(filepath.Join(dir, "witness.gz")); err == nil {
		if fx.Witness, err = noirfile.Witness(filepath.Join(dir, "witness.gz")); err != nil {
			tb.Fatal(err)
		}
	}
	return fx
}

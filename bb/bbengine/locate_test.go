package bbengine

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/proofd/proofd/bb/bbtest"
)

// TestLocateOrder: --bb, then $PROOFD_BB, then the project cache.
func TestLocateOrder(t *testing.T) {
	if p, from, err := Locate("/x/bb"); p != "/x/bb" || from != "--bb" || err != nil {
		t.Errorf("Locate(flag) = %q %q %v", p, from, err)
	}
	t.Setenv(EnvBB, "/env/bb")
	if p, from, err := Locate(""); p != "/env/bb" || from != "$"+EnvBB || err != nil {
		t.Errorf("Locate with $%s = %q %q %v", EnvBB, p, from, err)
	}
	t.Setenv(EnvBB, "")
	cached := filepath.Join(bbtest.Root, CachePath)
	if _, err := os.Stat(cached); err != nil {
		t.Skipf("no bb in the project cache (%v)", err)
	}
	want, _ := filepath.EvalSymlinks(cached)
	p, from, err := Locate("")
	got, _ := filepath.EvalSymlinks(p)
	if got != want || from != "the project cache" || err != nil {
		t.Errorf("Locate from inside the repository = %q %q %v, want %s", p, from, err, cached)
	}
}

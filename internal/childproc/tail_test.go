package childproc

import (
	"strings"
	"testing"
)

func TestTailKeepsTheLastBytes(t *testing.T) {
	tl := &Tail{Max: 8}
	if tl.Suffix("bb") != "" {
		t.Fatal("an empty tail has a suffix")
	}
	tl.Write([]byte("0123456"))
	tl.Write([]byte("789abc"))
	if got := tl.Suffix("bb"); got != "; bb stderr: 56789abc" {
		t.Fatalf("suffix %q", got)
	}
	tl.Write([]byte(strings.Repeat("x", 100)))
	if got := tl.Suffix("engine"); got != "; engine stderr: xxxxxxxx" {
		t.Fatalf("suffix %q", got)
	}
}

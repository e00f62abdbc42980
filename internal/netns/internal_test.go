package netns

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestCloseAfterFailedSetup(t *testing.T) {
	Require(t)
	nt := plan(fmt.Sprintf("pd%d-failed-", os.Getpid()), 1, 3)
	taken := nt.Hosts[1].Name
	if _, err := ip("netns", "add", taken); err != nil {
		t.Fatal(err)
	}
	defer ip("netns", "del", taken)

	err := nt.setup()
	if err == nil || !strings.Contains(err.Error(), "ip netns add "+taken) {
		t.Fatalf("setup = %v, want an error naming ip netns add %s", err, taken)
	}
	if got, want := nt.made, []string{nt.Switch, nt.Hosts[0].Name}; !slices.Equal(got, want) {
		t.Errorf("made = %v, want %v", got, want)
	}
	if err := nt.close(t); err != nil {
		t.Fatal(err)
	}
	out, err := ip("netns", "list")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range nt.made {
		if strings.Contains(out, name) {
			t.Errorf("namespace %s still there after close", name)
		}
	}
}

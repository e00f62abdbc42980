package prover

import (
	"context"
	"strings"
	"testing"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/engine/pool"
	"github.com/proofd/proofd/examples/rollup"
	"github.com/proofd/proofd/keycache"
)

// noPool fails every call: the tests here stop before any engine work.
type noPool struct{}

func (noPool) DoLease(context.Context, []artifact.Digest, func(*pool.Lease) error) error {
	panic("the pool was called")
}

func TestCheckProfile(t *testing.T) {
	for _, tc := range []struct {
		profile string
		bundle  int
		mention string // "" when accepted
	}{
		{"", 4, ""},
		{ProfileDefault, 1, ""},
		{ProfileEVM, 1, ""},
		{ProfileEVM, 4, "BundleSize must be 1, not 4"},
		{ProfileEVM, 0, "not 4"}, // the default bundle size
		{"zk", 1, `profile "zk"`},
	} {
		err := CheckProfile(tc.profile, rollup.Params{BundleSize: tc.bundle})
		if (err == nil) != (tc.mention == "") || (err != nil && !strings.Contains(err.Error(), tc.mention)) {
			t.Errorf("CheckProfile(%q, bundle %d) = %v, want mention %q", tc.profile, tc.bundle, err, tc.mention)
		}
	}
	keys, err := keycache.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = New(context.Background(), Config{Params: rollup.Params{BundleSize: 2}, Profile: ProfileEVM, Pool: noPool{}, Keys: keys})
	if err == nil || !strings.Contains(err.Error(), "BundleSize must be 1") {
		t.Fatalf("New, evm profile, bundle size 2: %v", err)
	}
}

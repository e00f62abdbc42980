package rollup

import (
	"strings"
	"testing"
)

func TestParams(t *testing.T) {
	p := (&Params{}).EnsureDefaults()
	if *p != (Params{Depth: 8, TxsPerBlock: 2, BundleSize: 4}) {
		t.Fatalf("defaults are %+v", *p)
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	err := (&Params{Depth: 33, TxsPerBlock: -1, BundleSize: 65}).Validate()
	for _, want := range []string{"Depth 33", "TxsPerBlock -1", "BundleSize 65"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not report %q", err, want)
		}
	}
	if (Params{}).Digest() != p.Digest() {
		t.Error("zero params and explicit defaults digest differently")
	}
	if (Params{Depth: 7}).Digest() == p.Digest() {
		t.Error("digest ignores Depth")
	}
	for _, f := range []func() error{
		func() error { _, err := CompileTx(Params{Depth: 40}); return err },
		func() error { _, err := CompileAggregate(Params{BundleSize: 100}); return err },
		func() error { _, err := TxWitness(Params{}, nil); return err },
		func() error { _, err := BatchWitness(Params{}, nil, nil); return err },
		func() error { _, err := AggregateWitness(Params{}, nil); return err },
		func() error { _, err := AggregateCommitment(nil); return err },
	} {
		if f() == nil {
			t.Error("bad input accepted")
		}
	}
}

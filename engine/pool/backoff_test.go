package pool

import (
	"testing"
	"time"
)

// TestBackOffJitters: the waits between retries grow from 50 ms to 5 s,
// each within ±50% of its step, and callers that start together do not wait
// alike.
func TestBackOffJitters(t *testing.T) {
	firsts := map[time.Duration]bool{}
	for range 100 {
		b := newBackOff()
		step := 50 * time.Millisecond
		for k := range 10 {
			got := b.NextBackOff()
			if got < step/2 || got > step*3/2+1 {
				t.Fatalf("wait %d: %v, want within ±50%% of %v", k, got, step)
			}
			if k == 0 {
				firsts[got] = true
			}
			step = min(2*step, 5*time.Second)
		}
	}
	if len(firsts) < 50 {
		t.Fatalf("100 callers' first waits took only %d values: too little jitter", len(firsts))
	}
}

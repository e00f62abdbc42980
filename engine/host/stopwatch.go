package host

import (
	"time"

	"github.com/proofd/proofd/proto/enginev1"
)

// Stopwatch records the consecutive stages of one request, for the
// per-stage timings every response carries.
type Stopwatch struct {
	last    time.Time
	Timings []*enginev1.Timing
}

// NewStopwatch starts timing the first stage now.
func NewStopwatch() *Stopwatch { return &Stopwatch{last: time.Now()} }

// Lap ends the current stage under name and starts the next.
func (s *Stopwatch) Lap(stage string) {
	now := time.Now()
	s.Add(stage, now.Sub(s.last))
	s.last = now
}

// Add records a stage timed elsewhere.
func (s *Stopwatch) Add(stage string, d time.Duration) {
	s.Timings = append(s.Timings, &enginev1.Timing{Stage: stage, Nanos: d.Nanoseconds()})
}

// Restart starts the next stage now, after stages timed with Add.
func (s *Stopwatch) Restart() { s.last = time.Now() }

package snark

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/consensys/gnark/logger"
	"github.com/rs/zerolog"
	"google.golang.org/grpc/status"
)

// heavy admits one setup or prove at a time in this process.
var heavy = make(chan struct{}, 1)

func acquireHeavy(ctx context.Context) (release func(), err error) {
	select {
	case heavy <- struct{}{}:
		return func() { <-heavy }, nil
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	}
}

// gnarkLog collects the durations gnark logs ("prover done", took=…) while
// a heavy operation runs. Only the holder of heavy reads or resets it.
var gnarkLog = &durationSink{}

var installLogger sync.Once

// RouteGnarkLog points gnark's process-wide logger at the engine's stage
// collector, away from stdout, which carries the engine's announce line and
// the CLI's JSON. Any process that calls gnark must call it first.
func RouteGnarkLog() {
	installLogger.Do(func() {
		logger.Set(zerolog.New(gnarkLog).Level(zerolog.DebugLevel))
	})
}

type durationSink struct {
	mu   sync.Mutex
	took map[string]time.Duration
}

func (s *durationSink) Write(p []byte) (int, error) {
	var rec struct {
		Message string   `json:"message"`
		Took    *float64 `json:"took"` // zerolog writes durations in ms
	}
	if json.Unmarshal(p, &rec) == nil && rec.Took != nil {
		s.mu.Lock()
		if s.took == nil {
			s.took = map[string]time.Duration{}
		}
		s.took[rec.Message] = time.Duration(*rec.Took * float64(time.Millisecond))
		s.mu.Unlock()
	}
	return len(p), nil
}

// take returns and forgets what was logged under msg.
func (s *durationSink) take(msg string) (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.took[msg]
	delete(s.took, msg)
	return d, ok
}

// checkCtx stops work at a stage boundary once the caller has gone.
func checkCtx(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return status.FromContextError(err).Err()
	}
	return nil
}

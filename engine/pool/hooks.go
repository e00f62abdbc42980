package pool

import (
	"time"

	"github.com/proofd/proofd/artifact"
)

// Hooks observe a Factory. Every field is optional; each is called
// synchronously, so keep them cheap. A Prometheus adapter lives in
// engine/pool/poolmetrics.
type Hooks struct {
	// PoolSize reports the configured pool size (0 for fresh mode).
	PoolSize func(n int)
	// Load reports leased engines and callers waiting for one.
	Load func(busy, waiting int)
	// Started reports each engine start: how long, and whether it failed.
	Started func(d time.Duration, err error)
	// Died reports a pooled engine found dead, with why.
	Died func(reason string)
	// Respawned reports a dead engine replaced.
	Respawned func()
	// Call reports each attempt Do made: latency and outcome.
	Call func(d time.Duration, err error)
	// Poison reports a request Do gave up on because it kills engines,
	// with the digests of its inputs.
	Poison func(inputs []artifact.Digest)
	// Teardown reports an error stopping an engine on Release.
	Teardown func(err error)
}

func (h Hooks) poolSize(n int) {
	if h.PoolSize != nil {
		h.PoolSize(n)
	}
}

func (h Hooks) load(busy, waiting int) {
	if h.Load != nil {
		h.Load(busy, waiting)
	}
}

func (h Hooks) started(d time.Duration, err error) {
	if h.Started != nil {
		h.Started(d, err)
	}
}

func (h Hooks) died(reason string) {
	if h.Died != nil {
		h.Died(reason)
	}
}

func (h Hooks) respawned() {
	if h.Respawned != nil {
		h.Respawned()
	}
}

func (h Hooks) call(d time.Duration, err error) {
	if h.Call != nil {
		h.Call(d, err)
	}
}

func (h Hooks) teardown(err error) {
	if h.Teardown != nil {
		h.Teardown(err)
	}
}

func (h Hooks) poison(inputs []artifact.Digest) {
	if h.Poison != nil {
		h.Poison(inputs)
	}
}

// Package poolmetrics exports an engine factory's hooks as Prometheus
// metrics. The pool package itself does not import Prometheus (hooks are
// plain functions); this adapter is what the CLI and the node register.
//
// Metrics (namespace proofd_engine_):
//
//	pool_size                 gauge      configured pool size (0: fresh engine per call)
//	busy                      gauge      engines on lease
//	waiting                   gauge      callers waiting for an engine
//	starts_total{result}      counter    engine starts, result=ok|error
//	start_seconds             histogram  time to start an engine
//	deaths_total              counter    pooled engines found dead
//	respawns_total            counter    dead engines replaced
//	calls_total{result}       counter    Do attempts, result=ok|error
//	call_seconds              histogram  Do attempt latency
//	teardown_errors_total     counter    errors stopping an engine
//	poison_requests_total     counter    requests Do gave up on because they kill engines
package poolmetrics

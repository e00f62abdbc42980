// Package natsqmetrics turns natsq's client and worker hooks into
// Prometheus metrics (docs/metrics.md lists them). natsq itself reports
// only through hooks.
package natsqmetrics

// Package bench holds proofd's command-line benchmarks. Each one measures a
// baseline and the cases it is compared with in the same run, alternating
// them (A B A B …) so drift of the machine cancels, and reports medians and
// ratios (the JSON shape is Report; docs/benchmarks.md keeps the figures).
package bench

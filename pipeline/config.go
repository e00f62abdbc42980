package pipeline

import (
	"errors"
	"fmt"
)

// NoRetries in Config.Retries means a failed proof is not retried.
const NoRetries = -1

// Config configures a Core. Zero values mean defaults (EnsureDefaults).
type Config struct {
	// BundleSize is how many consecutive blocks one aggregate proof covers
	// (default 4). Bundles are aligned to heights: one ends at every
	// multiple of BundleSize.
	BundleSize uint64
	// MaxProving bounds the Prove effects outstanding at once, across
	// stages (default 1): the engine pool is the one semaphore, so set it to
	// the pool's size.
	MaxProving int
	// Retries bounds how often one job's failed proof is retried before it
	// is Failed (default 2; NoRetries for none). An error wrapping
	// ErrPermanent is never retried.
	Retries int
	// Base is the block the chain grows from; it is not proven. Its height
	// must be a multiple of BundleSize (genesis at 0, or a pruned
	// checkpoint).
	Base Checkpoint
}

// EnsureDefaults fills every zero field that has a default, and returns c.
func (c *Config) EnsureDefaults() *Config {
	if c.BundleSize == 0 {
		c.BundleSize = 4
	}
	if c.MaxProving == 0 {
		c.MaxProving = 1
	}
	if c.Retries == 0 {
		c.Retries = 2
	}
	return c
}

// Validate reports every problem with the config at once.
func (c *Config) Validate() error {
	var errs []error
	if c.BundleSize == 0 {
		errs = append(errs, errors.New("pipeline config: BundleSize is 0"))
	} else if c.Base.Height%c.BundleSize != 0 {
		errs = append(errs, fmt.Errorf("pipeline config: Base height %d is not a multiple of BundleSize %d", c.Base.Height, c.BundleSize))
	}
	if c.MaxProving < 1 {
		errs = append(errs, fmt.Errorf("pipeline config: MaxProving %d is below 1", c.MaxProving))
	}
	if c.Retries < NoRetries {
		errs = append(errs, fmt.Errorf("pipeline config: Retries %d is negative (NoRetries means none)", c.Retries))
	}
	return errors.Join(errs...)
}

package pool_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/proofd/proofd/engine"
	"github.com/proofd/proofd/engine/pool"
)

func TestConfigValidate(t *testing.T) {
	start := func(context.Context) (*engine.Conn, error) { return nil, nil }
	for _, tc := range []struct {
		name string
		cfg  pool.Config
		want []string // substrings, one per violation
	}{
		{"defaults", pool.Config{Start: start}, nil},
		{"no retries", pool.Config{Start: start, Retries: pool.NoRetries, DeathRetries: pool.NoRetries}, nil},
		{"everything wrong", pool.Config{PoolSize: -1, Retries: -2, DeathRetries: -5, HealthInterval: -1, HealthTimeout: -1, ResidentCap: -1},
			[]string{"Start is nil", "PoolSize -1", "Retries -2", "DeathRetries -5", "HealthInterval -1ns", "HealthTimeout -1ns", "ResidentCap -1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.EnsureDefaults().Validate()
			if (err != nil) != (len(tc.want) > 0) {
				t.Fatalf("Validate: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate error %q does not report %q", err, w)
				}
			}
			if _, err := pool.New(tc.cfg); (err != nil) != (len(tc.want) > 0) {
				t.Errorf("New: %v", err)
			}
		})
	}
}

func TestConfigEnsureDefaults(t *testing.T) {
	cfg := pool.Config{Retries: pool.NoRetries}
	once := *cfg.EnsureDefaults()
	twice := *cfg.EnsureDefaults()
	if once.Retries != pool.NoRetries || once.DeathRetries != 1 || once.HealthInterval != 5*time.Second ||
		once.HealthTimeout != 2*time.Second || once.ResidentCap != 32 {
		t.Fatalf("defaults: %+v", once)
	}
	if once.Retries != twice.Retries || once.DeathRetries != twice.DeathRetries || once.ResidentCap != twice.ResidentCap {
		t.Fatalf("EnsureDefaults is not idempotent: %+v then %+v", once, twice)
	}
}

package vm

import (
	"fmt"
	"strconv"
	"strings"
)

// StepMatcher is Cannon's step pattern: "never", "always", "=N" (step N),
// "%N" (every N steps, step 0 included).
type StepMatcher func(step uint64) bool

// ParseStepMatcher parses a step pattern with Cannon's grammar: "" and
// "never" match nothing, "always" every step, "=N" step N, "%N" every step
// divisible by N. Numbers take Go's prefixes (0x, 0o, 0b), as in Cannon.
// Unlike Cannon, "%0" is an error instead of a division by zero at run time.
func ParseStepMatcher(pattern string) (StepMatcher, error) {
	switch {
	case pattern == "" || pattern == "never":
		return func(uint64) bool { return false }, nil
	case pattern == "always":
		return func(uint64) bool { return true }, nil
	case strings.HasPrefix(pattern, "="):
		n, err := strconv.ParseUint(pattern[1:], 0, 64)
		if err != nil {
			return nil, fmt.Errorf("step pattern %q: step number: %w", pattern, err)
		}
		return func(step uint64) bool { return step == n }, nil
	case strings.HasPrefix(pattern, "%"):
		n, err := strconv.ParseUint(pattern[1:], 0, 64)
		if err != nil {
			return nil, fmt.Errorf("step pattern %q: step interval: %w", pattern, err)
		}
		if n == 0 {
			return nil, fmt.Errorf("step pattern %q: interval must be at least 1", pattern)
		}
		return func(step uint64) bool { return step%n == 0 }, nil
	}
	return nil, fmt.Errorf("step pattern %q: want never, always, =N or %%N", pattern)
}

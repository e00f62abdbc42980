package engine

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/proofd/proofd/proto/enginev1"
)

var (
	// ErrEngineNotFound means the engine binary does not exist; retrying
	// cannot help.
	ErrEngineNotFound = errors.New("engine binary not found")
	// ErrEngineExited means the engine process exited.
	ErrEngineExited = errors.New("engine exited")
	// ErrUnavailable means the engine could not be reached.
	ErrUnavailable = errors.New("engine unavailable")
)

// InputError is an input the engine rejected: a corrupt file, a witness of
// another circuit. Retrying it elsewhere gives the same answer.
type InputError struct {
	Op     string
	Input  string
	Reason string
}

func (e *InputError) Error() string {
	return fmt.Sprintf("%s: %s: %s", e.Op, e.Input, e.Reason)
}

// RetryableError marks a failure of the engine, not of the request: the same
// call may succeed on another engine.
type RetryableError struct{ Err error }

func (e *RetryableError) Error() string { return e.Err.Error() }
func (e *RetryableError) Unwrap() error { return e.Err }

// IsRetryable reports whether err was caused by the engine rather than the
// request.
func IsRetryable(err error) bool {
	var r *RetryableError
	return errors.As(err, &r)
}

// FromStatus turns a gRPC error from op into one of this package's errors.
func FromStatus(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%s: %w", op, ctxErr)
	}
	st, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("%s: %w", op, err)
	}
	switch st.Code() {
	case codes.InvalidArgument:
		for _, d := range st.Details() {
			if bi, ok := d.(*enginev1.BadInput); ok {
				return &InputError{Op: op, Input: bi.GetInput(), Reason: bi.GetReason()}
			}
		}
		return &InputError{Op: op, Input: "request", Reason: st.Message()}
	case codes.Unavailable:
		return &RetryableError{Err: fmt.Errorf("%s: %w: %s", op, ErrUnavailable, st.Message())}
	case codes.Canceled:
		return fmt.Errorf("%s: %w", op, context.Canceled)
	case codes.DeadlineExceeded:
		return fmt.Errorf("%s: %w", op, context.DeadlineExceeded)
	}
	return fmt.Errorf("%s: %s: %s", op, st.Code(), st.Message())
}

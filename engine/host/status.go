package host

import (
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/proofd/proofd/proto/enginev1"
)

// BadInput is the status for a rejected input: INVALID_ARGUMENT with a
// BadInput detail naming the input, so the client can say which file was bad.
func BadInput(input, reason string) error {
	st := status.Newf(codes.InvalidArgument, "%s: %s", input, reason)
	if withDetail, err := st.WithDetails(&enginev1.BadInput{Input: input, Reason: reason}); err == nil {
		st = withDetail
	}
	return st.Err()
}

// Missing is the status for a request that names artifacts the engine does
// not hold: FAILED_PRECONDITION with a MissingArtifacts detail. Clients
// upload the digests listed and retry.
func Missing(ds ...Digest) error {
	raw := make([][]byte, len(ds))
	names := ""
	for i, d := range ds {
		raw[i] = append([]byte(nil), d[:]...)
		if i > 0 {
			names += ", "
		}
		names += d.Short()
	}
	st := status.Newf(codes.FailedPrecondition, "artifacts not resident: %s", names)
	if withDetail, err := st.WithDetails(&enginev1.MissingArtifacts{Digests: raw}); err == nil {
		st = withDetail
	}
	return st.Err()
}

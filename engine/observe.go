package engine

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
)

// RPCObserver is told of each RPC on a connection, after it ends: the
// method's short name ("Prove", "Upload"), how long it took, and its
// error (nil, or what gRPC returned, usually a status error). It is
// called on the caller's goroutine, so keep it cheap.
type RPCObserver func(method string, d time.Duration, err error)

// observeOptions are the dial options that report every RPC to obs;
// none when obs is nil.
func observeOptions(obs RPCObserver) []grpc.DialOption {
	if obs == nil {
		return nil
	}
	return []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoke grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			start := time.Now()
			err := invoke(ctx, method, req, reply, cc, opts...)
			obs(shortMethod(method), time.Since(start), err)
			return err
		}),
		grpc.WithChainStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			start := time.Now()
			done := func(err error) { obs(shortMethod(method), time.Since(start), err) }
			s, err := streamer(ctx, desc, cc, method, opts...)
			if err != nil {
				done(err)
				return nil, err
			}
			return &observedStream{ClientStream: s, serverStreams: desc.ServerStreams, done: done}, nil
		}),
	}
}

// shortMethod is the last element of a full gRPC method name
// ("/proofd.engine.v1.Engine/Prove" → "Prove").
func shortMethod(full string) string { return full[strings.LastIndexByte(full, '/')+1:] }

// observedStream reports its stream once it ends: at the response of a
// client stream, at io.EOF or an error of a server stream. A stream its
// caller abandons before the end is not reported.
type observedStream struct {
	grpc.ClientStream
	serverStreams bool
	done          func(error)
	once          sync.Once
}

func (s *observedStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err != nil || !s.serverStreams {
		end := err
		if errors.Is(err, io.EOF) {
			end = nil
		}
		s.once.Do(func() { s.done(end) })
	}
	return err
}

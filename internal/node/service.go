package node

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"connectrpc.com/connect"

	"github.com/proofd/proofd/pipeline"
	ingestv1 "github.com/proofd/proofd/proto/ingestv1"
	"github.com/proofd/proofd/proto/ingestv1/ingestv1connect"
	"github.com/proofd/proofd/receipts"
)

// service is the ingest API (proto/ingestv1), served by connect as gRPC and
// HTTP/JSON from the one definition.
type service struct {
	n *Node
}

var _ ingestv1connect.IngestServiceHandler = service{}

// fail counts a refused request and answers it with code and err; meta
// headers (Retry-After) travel as HTTP headers or gRPC trailers.
func (s service) fail(ctx context.Context, kind, outcome string, code connect.Code, err error, meta ...string) error {
	s.n.count(ctx, kind, outcome)
	cerr := connect.NewError(code, err)
	for i := 0; i+1 < len(meta); i += 2 {
		cerr.Meta().Set(meta[i], meta[i+1])
	}
	return cerr
}

// throttled refuses a call that would append to an inbox the pipeline lags
// more than max-behind events behind.
func (s service) throttled(ctx context.Context, kind string) error {
	return s.fail(ctx, kind, "throttled", connect.CodeResourceExhausted,
		fmt.Errorf("the pipeline is more than %d events behind; retry later", s.n.cfg.MaxBehind), "Retry-After", "2")
}

func (s service) unavailable(ctx context.Context, kind string) error {
	return s.fail(ctx, kind, "unavailable", connect.CodeUnavailable, errors.New("the node is starting or stopping"), "Retry-After", "5")
}

func (s service) SubmitBlock(ctx context.Context, req *connect.Request[ingestv1.SubmitBlockRequest]) (*connect.Response[ingestv1.SubmitBlockResponse], error) {
	n := s.n
	if !n.ready.Load() || n.draining.Load() {
		return nil, s.unavailable(ctx, "block")
	}
	if req.Msg.Block == nil {
		return nil, s.fail(ctx, "block", "invalid", connect.CodeInvalidArgument, errors.New("block: missing"))
	}
	b, err := decodeBlock(req.Msg.Block, n.p)
	if err != nil {
		return nil, s.fail(ctx, "block", "invalid", connect.CodeInvalidArgument, fmt.Errorf("block.%w", err))
	}
	payload, err := b.MarshalBinary()
	if err != nil {
		return nil, s.fail(ctx, "block", "invalid", connect.CodeInvalidArgument, fmt.Errorf("block: %w", err))
	}
	ev := pipeline.Event{Block: &pipeline.Block{Height: b.Height, Hash: b.Hash, Parent: b.Parent, Txs: len(b.Txs)}, Payload: payload}
	res, err := n.inbox.submit(ev, n.cfg.MaxBehind)
	hash := req.Msg.Block.Hash
	switch {
	case err != nil:
		n.log.Error("submit: writing the inbox", "block", hash, "err", err)
		return nil, s.fail(ctx, "block", "error", connect.CodeInternal, err)
	case res == unknownParent:
		return nil, s.fail(ctx, "block", "unknown_parent", connect.CodeInvalidArgument, fmt.Errorf("block.parent: unknown block %s", req.Msg.Block.Parent))
	case res == belowFinality:
		return nil, s.fail(ctx, "block", "below_finality", connect.CodeInvalidArgument,
			fmt.Errorf("block.height: %d is at or below the finalized height; the node no longer takes blocks there", b.Height))
	case res == badHeight:
		return nil, s.fail(ctx, "block", "invalid", connect.CodeInvalidArgument, fmt.Errorf("block.height: %d does not follow its parent's", b.Height))
	case res == behind:
		return nil, s.throttled(ctx, "block")
	case res == duplicate:
		n.count(ctx, "block", "duplicate")
		return connect.NewResponse(&ingestv1.SubmitBlockResponse{Hash: hash, Duplicate: true}), nil
	}
	n.count(ctx, "block", "accepted")
	return connect.NewResponse(&ingestv1.SubmitBlockResponse{Hash: hash}), nil
}

func (s service) SetHead(ctx context.Context, req *connect.Request[ingestv1.SetHeadRequest]) (*connect.Response[ingestv1.SetHeadResponse], error) {
	n := s.n
	if !n.ready.Load() || n.draining.Load() {
		return nil, s.unavailable(ctx, "head")
	}
	h, err := hex32("hash", req.Msg.Hash)
	if err != nil {
		return nil, s.fail(ctx, "head", "invalid", connect.CodeInvalidArgument, err)
	}
	res, err := n.inbox.head(h, n.cfg.MaxBehind)
	switch {
	case err != nil:
		return nil, s.fail(ctx, "head", "error", connect.CodeInternal, err)
	case res == unknownBlock:
		return nil, s.fail(ctx, "head", "unknown_block", connect.CodeInvalidArgument, fmt.Errorf("hash: unknown block %s", req.Msg.Hash))
	case res == behind:
		return nil, s.throttled(ctx, "head")
	}
	n.count(ctx, "head", "accepted")
	return connect.NewResponse(&ingestv1.SetHeadResponse{Hash: req.Msg.Hash}), nil
}

func (s service) Finalize(ctx context.Context, req *connect.Request[ingestv1.FinalizeRequest]) (*connect.Response[ingestv1.FinalizeResponse], error) {
	n := s.n
	if n.draining.Load() {
		return nil, s.unavailable(ctx, "finalize")
	}
	res, err := n.inbox.markFinal(req.Msg.Height, n.cfg.MaxBehind)
	switch {
	case err != nil:
		return nil, s.fail(ctx, "finalize", "error", connect.CodeInternal, err)
	case res == behind:
		return nil, s.throttled(ctx, "finalize")
	}
	n.count(ctx, "finalize", "accepted")
	return connect.NewResponse(&ingestv1.FinalizeResponse{Height: req.Msg.Height}), nil
}

func (s service) GetStatus(ctx context.Context, _ *connect.Request[ingestv1.GetStatusRequest]) (*connect.Response[ingestv1.GetStatusResponse], error) {
	return connect.NewResponse(s.n.status(ctx)), nil
}

// query runs fn with the pipeline's view of the chain, on the pipeline's
// goroutine; Unavailable when the pipeline does not answer in time (it is
// not running yet, or any more).
func (n *Node) query(ctx context.Context, fn func(pipeline.View)) error {
	if !n.ready.Load() {
		return connect.NewError(connect.CodeUnavailable, errors.New("the node is starting: the circuits are not ready"))
	}
	done := make(chan struct{})
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	select {
	case n.queries <- func(v pipeline.View) { fn(v); close(done) }:
	case <-ctx.Done():
		return connect.NewError(connect.CodeUnavailable, errors.New("the pipeline is not running"))
	}
	<-done
	return nil
}

// locate finds the block a request names: by hash, else the canonical block
// at height. It answers the block's height and hash, or NotFound.
func (n *Node) locate(ctx context.Context, hash string, height uint64) (pipeline.BlockStatus, pipeline.Hash, error) {
	var h pipeline.Hash
	if hash != "" {
		var err error
		if h, err = hex32("hash", hash); err != nil {
			return pipeline.BlockStatus{}, h, connect.NewError(connect.CodeInvalidArgument, err)
		}
	} else if height == 0 {
		return pipeline.BlockStatus{}, h, connect.NewError(connect.CodeInvalidArgument, errors.New("hash or height: one is required"))
	}
	var st pipeline.BlockStatus
	var found bool
	err := n.query(ctx, func(v pipeline.View) {
		if hash == "" {
			var b pipeline.Block
			if b, found = v.Canonical(height); found {
				h = b.Hash
			}
		}
		st, found = v.Status(h)
	})
	if err != nil {
		return st, h, err
	}
	if !found {
		what := "hash " + hash
		if hash == "" {
			what = fmt.Sprintf("height %d", height)
		}
		return st, h, connect.NewError(connect.CodeNotFound, fmt.Errorf("%s: no such block above the last pruned checkpoint", what))
	}
	return st, h, nil
}

func (s service) GetBlock(ctx context.Context, req *connect.Request[ingestv1.GetBlockRequest]) (*connect.Response[ingestv1.GetBlockResponse], error) {
	st, h, err := s.n.locate(ctx, req.Msg.Hash, req.Msg.Height)
	if err != nil {
		return nil, err
	}
	out := &ingestv1.GetBlockResponse{Height: st.Height, Hash: hex.EncodeToString(h[:]), Canonical: st.Canonical}
	if parent, ok := s.n.inbox.parent(h); ok {
		out.Parent = hex.EncodeToString(parent[:])
	}
	for i, js := range st.Txs {
		out.Jobs = append(out.Jobs, &ingestv1.Job{Stage: "tx", Index: uint32(i), State: js.String()})
	}
	out.Jobs = append(out.Jobs, &ingestv1.Job{Stage: "batch", State: st.Batch.String()})
	if st.Aggregate != pipeline.JobNone {
		out.Jobs = append(out.Jobs, &ingestv1.Job{Stage: "aggregate", State: st.Aggregate.String()})
	}
	return connect.NewResponse(out), nil
}

func (s service) GetReceipts(ctx context.Context, req *connect.Request[ingestv1.GetReceiptsRequest]) (*connect.Response[ingestv1.GetReceiptsResponse], error) {
	st, h, err := s.n.locate(ctx, req.Msg.Hash, req.Msg.Height)
	if err != nil {
		return nil, err
	}
	out := &ingestv1.GetReceiptsResponse{Height: st.Height, Hash: hex.EncodeToString(h[:])}
	err = s.n.store.Block(st.Height, h, func(k receipts.Key, r receipts.Receipt) error {
		rc := &ingestv1.Receipt{Stage: stageOf(k.Kind), Statement: hex.EncodeToString(k.Statement[:]), Proof: r.Proof, Public: r.Public}
		if k.Kind == receipts.KindTx {
			rc.Index = uint32(k.Index)
		}
		out.Receipts = append(out.Receipts, rc)
		return nil
	})
	if err != nil {
		return nil, connect.NewError(connect.CodeInternal, err)
	}
	return connect.NewResponse(out), nil
}

func stageOf(k receipts.Kind) string {
	switch k {
	case receipts.KindTx:
		return "tx"
	case receipts.KindBatch:
		return "batch"
	}
	return "aggregate"
}

func (s service) GetSettlement(context.Context, *connect.Request[ingestv1.GetSettlementRequest]) (*connect.Response[ingestv1.GetSettlementResponse], error) {
	in := s.n.track.settled()
	if in == nil {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("no aggregate proof published yet"))
	}
	return connect.NewResponse(&ingestv1.GetSettlementResponse{
		Height: in.Job.Height, Block: hex.EncodeToString(in.Job.Block[:]), Proof: in.Receipt.Proof, Public: in.Receipt.Public,
	}), nil
}

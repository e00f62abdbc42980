# proofd — build and test. `make test` is what CI runs (.ci/run).
GO ?= go
# Tests compare the VM with the real cannon binary, which they build from the
# optimism module; here a cannon that cannot be built fails the run instead of
# skipping the comparison.
export PROOFD_REQUIRE_CANNON ?= 1
# The EVM tests compile gnark's exported verifiers with the pinned solc, which
# they install themselves (scripts/install-solc.sh, needs Node and npm); here
# a solc that cannot be installed fails the run instead of skipping them.
export PROOFD_REQUIRE_SOLC ?= 1
# The status page's tests drive it in headless Chromium, which they install
# themselves (scripts/install-chromium.sh, Debian's package via apt-get); here
# a browser that cannot be installed fails the run instead of skipping them.
export PROOFD_REQUIRE_CHROMIUM ?= 1
# The bb tests run the real barretenberg prover, which they install themselves
# (scripts/install-bb.sh: npm @aztec/bb.js@5.0.0, sha256-pinned); here a bb
# that cannot be installed fails the run instead of skipping them.
export PROOFD_REQUIRE_BB ?= 1
# Packages that run goroutines and processes concurrently run again under -race.
RACE_PKGS := ./engine/... ./bb/bbapi/... ./bb/bbengine/... ./debugrec/... ./internal/cli/... ./internal/childproc/... ./receipts/... ./snapshot/... ./vm/... ./pipeline/... ./internal/node/... ./queue/... ./artifact/artcache/...

.PHONY: test fmt-check vet unit race proto demo bench-engine test-cluster

test: fmt-check vet unit race

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

unit:
	$(GO) test -count=1 -timeout 20m ./...

race:
	$(GO) test -count=1 -race -short -timeout 20m $(RACE_PKGS)

# Regenerate the protocol code (committed; needs protoc, protoc-gen-go,
# protoc-gen-go-grpc and protoc-gen-connect-go v1.21.1).
proto:
	protoc --go_out=. --go_opt=paths=source_relative \
	       --go-grpc_out=. --go-grpc_opt=paths=source_relative proto/enginev1/engine.proto
	protoc --go_out=. --go_opt=paths=source_relative \
	       --connect-go_out=. --connect-go_opt=paths=source_relative proto/ingestv1/ingest.proto
	protoc --go_out=. --go_opt=paths=source_relative proto/queuev1/queue.proto

# The many-hosts test alone (internal/clustertest: network namespaces, a
# 3-server NATS cluster, a node and two workers as processes), with
# namespaces required: it fails instead of skipping where they cannot be
# made. `make test` runs it too, skipping it (with the reason) there.
test-cluster:
	PROOFD_REQUIRE_NETNS=1 $(GO) test -count=1 -v -timeout 15m ./internal/clustertest/ ./internal/netns/

demo:
	$(GO) run ./cmd/proofd demo

bench-engine:
	$(GO) run ./cmd/proofd bench engine

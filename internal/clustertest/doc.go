// Package clustertest holds the many-hosts test of issue 10: on network
// namespaces made by the test itself (internal/netns), separate processes
// run a 3-server NATS cluster (streams replicated ×3; clients on mutual TLS
// with nkeys), a `proofd node
// --nats` and two `proofd worker`s; the test kills a worker mid-proof, cuts
// another off the network and restores it, and kills a NATS server, and
// checks that no accepted block is lost and no durable receipt is proven
// again. It has no code outside its test; `make test-cluster` runs it with
// namespaces required.
package clustertest

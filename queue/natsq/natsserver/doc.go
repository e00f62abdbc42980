// Package natsserver runs a real NATS server (nats-server/v2 as a library)
// with JetStream inside this process, on loopback: for tests, for
// `proofd bench queue`, and for trying proofd's queue on one machine.
//
// Invariants: it listens on 127.0.0.1 only, on a port the kernel picks
// unless told one; JetStream's files live in the directory it is given and
// nowhere else; Shutdown waits until the server has stopped.
package natsserver

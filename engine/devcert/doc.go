// Package devcert makes development certificates for remote engines
// (`proofd certs dev`): a CA, a server certificate for the engine's hosts
// and a client certificate, all signed by that CA. They are for trying
// mutual TLS on a laptop or a test network, not for production: the CA key
// sits next to the certificates it signed.
//
// Invariants:
//   - Only the standard library makes them (crypto/x509, crypto/ecdsa):
//     ECDSA P-256 keys, random 128-bit serial numbers.
//   - The server certificate is good only for server auth and for the hosts
//     named (IP addresses as IP SANs, names as DNS SANs); the client
//     certificate only for client auth; the CA only signs certificates
//     (path length 0).
//   - Write publishes all six files at once (atomicfile.WriteGroup): keys
//     0600, certificates 0644; a failure leaves none of them changed.
package devcert

// Package netns makes several "hosts" on one Linux machine for tests: each
// host is a network namespace whose one link, eth0, is a veth to a bridge in
// a further namespace of its own, the switch. Tests run a process per host
// (Host.Command) and cut and restore a host's link (Host.Cut, Host.Restore)
// to see what a partition does to a cluster.
//
// Invariants:
//   - Nothing is added to the caller's namespace: the bridge and both ends of
//     every veth live in namespaces New made, and a test's traffic goes only
//     to addresses inside them (10.R.0.i/24, R chosen per New so the hosts of
//     concurrent tests are told apart in logs; the nets are disjoint anyway).
//   - Every namespace New made is deleted by the test's cleanup, also after a
//     setup that failed half way; a process still inside one is killed first,
//     so the namespace and its links go with it. Register a test's own
//     process cleanups after New: they then run first.
//   - Namespaces are named "pd<pid>-<n>-h<i>" and "pd<pid>-<n>-sw" after the
//     test process; a cleanup also deletes any "pd<pid>-…" whose process is
//     gone (a test run that was killed).
//   - Where namespaces cannot be made (not root, no ip, no bridge or veth),
//     New skips the test saying why, or fails it when PROOFD_REQUIRE_NETNS=1.
//
// The package drives iproute2's ip command; every error names the ip
// command line and what it printed.
package netns

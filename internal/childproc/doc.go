// Package childproc starts the child processes proofd runs (engines, the
// VM's preimage servers) so that none outlives proofd and none can hang its
// teardown.
//
// Invariants:
//   - A child leads its own process group. A terminal's Ctrl-C then reaches
//     proofd alone, which decides how its children stop, and Kill reaches
//     everything the child started that stayed in its group.
//   - A child gets SIGKILL when proofd dies (Pdeathsig). Linux sends it when
//     the thread that forked the child exits, not the process
//     (golang/go#27505), so Start forks from a goroutine locked to its OS
//     thread, which stays locked until the child is reaped.
//   - Every started child is reaped by that goroutine; Exited is closed only
//     after the reap, and Err is valid from then on.
//   - Reaping does not wait for a grandchild that inherited a stdout or
//     stderr pipe: Start sets cmd.WaitDelay when the caller did not.
//   - Kill signals the whole group, also after the leader has exited, since
//     a grandchild keeps the group alive. While any member lives, Linux does
//     not hand the group's id to a new process; once all are gone, a stray
//     Kill could only reach a process that reused the id after a pid
//     wrap-around and made itself a group leader.
package childproc

// Package debugrec records engine calls so they can be replayed from a shell.
//
// With PROOFD_DEBUG_DIR=DIR set, every call through the engine client writes
// DIR/NNNN-<op>-<name>/ holding:
//
//	<inputs>      the call's input files, named as the CLI expects them
//	output/       what the engine returned (files and result.json)
//	command.sh    reruns the same operation with the proofd CLI (or, for the
//	              bb engine, with the bb CLI itself), writing to replay/
//
// Invariants: call directories are numbered in the order calls begin and a
// number is never reused, even by several processes recording into one
// directory (each number is claimed by creating DIR/.NNNN exclusively); a directory is complete (inputs, command.sh)
// before the call goes to the engine, so a call that hangs or crashes the
// engine can still be replayed; command.sh only reads files in its own
// directory and writes only under replay/.
package debugrec

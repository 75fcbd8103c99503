// Package instrument rewrites a WebAssembly binary so that the host regains
// control at regular points of any call into it, however the guest loops or
// recurses.
//
// It adds one import, abi.ImportModule.abi.ImportYield () -> i32, one
// mutable i32 global (the fuel), and at the start of every function body
// and the head of every loop the check
//
//	fuel = fuel - 1
//	if fuel < 1 { fuel = yield() }
//
// The host's yield function checks the call's deadline and its context
// (and lets the Go scheduler run other goroutines during a long call), then
// returns the next fuel. So an infinite loop or an exponential recursion is
// stopped within one fuel period of its deadline, and a guest spinning in
// native code can never starve the rest of the process of Go processors.
// While fuel remains, the check is a load, a store and a predicted branch.
//
// Adding an import shifts the index of every defined function by one, so
// every place that names a function index is renumbered: call and ref.func
// instructions, exports, the start function, element segments, global
// initialisers and the "name" custom section (whose subsections beyond
// module, function and local names are dropped).
//
// Why not wazero's WithCloseOnContextDone? It does the same job, but in
// wazero v1.12 it starts a goroutine and allocates a channel and a closure
// on every call (about 0.85 µs and 3 allocations per call measured here), and
// its loop check leaves native code for Go on every iteration (8x slower
// loops in a Go guest). And a check that only reads a flag set by a watchdog
// goroutine cannot work when every Go processor is busy running guest code:
// the watchdog never gets to run. See wasmhost/RATIONALE.md.
//
// The parser is strict: it understands the instruction set of the features
// the host enables (WebAssembly 2.0: MVP, sign extension, non-trapping
// float-to-int, bulk memory, reference types, multi-value, SIMD) and refuses
// anything else, so an instruction it does not know can never hide a loop.
// wazero validates the rewritten module afterwards.
package instrument

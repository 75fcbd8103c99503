// Package instrument rewrites a WebAssembly binary so that the host regains
// control at regular points of any call into it, however the guest loops,
// recurses or uses bulk instructions, and so that the module cannot make
// the host allocate without bound.
//
// It adds one import, abi.ImportModule.abi.ImportYield () -> i32, two
// mutable i32 globals (the fuel, exported as FuelExport so that the host
// can refill it before each call, and a scratch), and these checks:
//
//   - at every function entry and loop head, "fuel -= cost; if fuel < 1 {
//     fuel = yield() }", where cost is 1 + n/64 and n counts the
//     instructions of the region the check pays for (the function body
//     outside its loops, plus its declared locals; or the loop body
//     outside the loops it contains). Control only goes backwards to a
//     loop head, so each instruction of a region runs at most once per
//     pass through its check: the cost bounds the straight code that can
//     run before the next check, however large a loop body is or however
//     it branches. Counting locals makes deep recursion pay for the stack
//     its frames take.
//   - before every bulk instruction (memory.fill, memory.copy,
//     memory.init, table.fill, table.copy, table.init, table.grow), a
//     charge of 1 + length/256 (bytes) or 1 + length/32 (table elements),
//     with the same test, paid before the work is done.
//
// The host's yield function checks the call's deadline and its context
// (and lets the Go scheduler run other goroutines during a long call), then
// returns the next fuel, Period. So a call is stopped within about one
// period of work (some 260,000 instructions) past its deadline, and a guest
// spinning in native code can never starve the rest of the process of Go
// processors. While fuel remains, a check is a load, a store and a
// predicted branch.
//
// Adding an import shifts the index of every defined function by one, so
// every place that names a function index is renumbered: call and ref.func
// instructions, exports, the start function, element segments, global
// initialisers and the "name" custom section (whose subsections beyond
// module, function and local names are dropped). The added type, globals
// and import must stay out of the guest's reach: a module that names a
// type or global index past its own (invalid as written, but it would name
// the fuel after the rewrite and let the guest refill it forever) is
// refused, as is one that already exports FuelExport. FuzzInstrument
// checks that the rewrite never changes whether wazero accepts a module.
//
// Limits: every vector count must fit in the bytes that follow it (wazero's
// decoder allocates by the count, so a few bytes could ask it for
// gigabytes), a function may declare at most MaxLocals locals, a module at
// most MaxTables tables, and a table may not start above MaxTableElements
// elements; tables without a maximum, or with a larger one, get
// MaxTableElements as their maximum (wazero keeps 8 bytes of host memory
// per element, outside the module's memory cap).
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

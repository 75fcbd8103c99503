// Package sdk is the machinery under package guest: the registered
// handlers, the dispatch from ABI exports to them, and the host calls, in a
// wasip1 build (real //go:wasmimport and //go:wasmexport functions) and a
// native build (a fake host that package guesttest installs).
//
// The handlers live in package variables because a Wasm module has exactly
// one set of exports; they are set once, from init functions, before any
// export can be called.
package sdk

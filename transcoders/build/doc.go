// Command build compiles the transcoders the server embeds into
// transcoders/builtin, reproducibly (see package buildwasm), and records the
// Go version used in transcoders/builtin/BUILDINFO. Run it from anywhere in
// the module after changing a transcoder, the guest SDK or wasmhost/abi:
//
//	go run ./transcoders/build
//
// With -check it builds into a temporary directory and fails if the result
// differs from the committed files (what CI runs).
package main

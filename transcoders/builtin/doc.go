// Package builtin embeds the transcoders the zero-config server uses, built
// from the sources in transcoders/ by `go run ./transcoders/build`. The
// test in this package rebuilds them and fails when the committed bytes are
// not what the sources produce, so the binary never ships a module out of
// step with its source.
//
// The returned slices are shared: callers must not modify them.
package builtin

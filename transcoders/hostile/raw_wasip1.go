//go:build wasip1

package main

// rawDeliver is the deliver host call without the SDK, so that the module
// can hand the host any pointer.
//
//go:wasmimport edgews_v1 deliver
func rawDeliver(flags uint32, ptr uint32, n uint32) uint32

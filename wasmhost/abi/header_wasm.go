//go:build wasm

package abi

import "unsafe"

// messageHeader returns the 8-byte header at the start of a batch message
// (flags in the low half, length in the high half) with one load: the Go
// compiler does not merge byte loads on Wasm, and in a guest the reader
// runs once per message. b holds at least 8 bytes.
func messageHeader(b []byte) uint64 {
	_ = b[7]
	return *(*uint64)(unsafe.Pointer(unsafe.SliceData(b)))
}

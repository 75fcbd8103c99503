//go:build wasm

package sio

import "unsafe"

// load8 returns the first 8 bytes of b (len(b) >= 8) as a word, with one
// load: the Go compiler does not merge byte loads on Wasm. The scanners
// that use it test every byte alike, so the byte order does not matter.
func load8(b []byte) uint64 {
	_ = b[7]
	return *(*uint64)(unsafe.Pointer(unsafe.SliceData(b)))
}

// load8s is load8 for a string.
func load8s(s string) uint64 {
	_ = s[7]
	return *(*uint64)(unsafe.Pointer(unsafe.StringData(s)))
}

//go:build wasip1

package sdk

import "unsafe"

// header returns a batch message's header (flags in the low half, length
// in the high half) with one little-endian load; b holds at least 8 bytes.
func header(b []byte) uint64 {
	_ = b[7]
	return *(*uint64)(unsafe.Pointer(unsafe.SliceData(b)))
}

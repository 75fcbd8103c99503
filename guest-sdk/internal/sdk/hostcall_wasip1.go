//go:build wasip1

package sdk

import "unsafe"

//go:wasmimport edgews_v1 write_frame
func importWriteFrame(flags uint32, ptr unsafe.Pointer, n uint32) uint32

//go:wasmimport edgews_v1 deliver
func importDeliver(flags uint32, ptr unsafe.Pointer, n uint32) uint32

//go:wasmimport edgews_v1 close
func importClose(code uint32, ptr unsafe.Pointer, n uint32) uint32

//go:wasmimport edgews_v1 get_attr
func importGetAttr(kptr unsafe.Pointer, klen uint32, vptr unsafe.Pointer, vcap uint32) int32

//go:wasmimport edgews_v1 set_attr
func importSetAttr(kptr unsafe.Pointer, klen uint32, vptr unsafe.Pointer, vlen uint32) uint32

//go:wasmimport edgews_v1 delete_attr
func importDeleteAttr(kptr unsafe.Pointer, klen uint32) uint32

//go:wasmimport edgews_v1 arm_timer
func importArmTimer(id uint32, afterNs int64) uint32

//go:wasmimport edgews_v1 log
func importLog(level uint32, ptr unsafe.Pointer, n uint32) uint32

func bytesPtr(b []byte) unsafe.Pointer  { return unsafe.Pointer(unsafe.SliceData(b)) }
func stringPtr(s string) unsafe.Pointer { return unsafe.Pointer(unsafe.StringData(s)) }

func hostClose(code uint32, reason string) uint32 {
	return importClose(code, stringPtr(reason), uint32(len(reason)))
}

func hostGetAttr(key string, buf []byte) int32 {
	return importGetAttr(stringPtr(key), uint32(len(key)), bytesPtr(buf), uint32(len(buf)))
}

func hostSetAttr(key string, value []byte) uint32 {
	return importSetAttr(stringPtr(key), uint32(len(key)), bytesPtr(value), uint32(len(value)))
}

func hostDeleteAttr(key string) uint32 {
	return importDeleteAttr(stringPtr(key), uint32(len(key)))
}

func hostArmTimer(id uint32, afterNs int64) uint32 { return importArmTimer(id, afterNs) }

func hostLog(level uint32, msg string) { importLog(level, stringPtr(msg), uint32(len(msg))) }

// WriteFrame queues a frame to the browser.
//
// WriteFrame and Deliver are written to stay within the compiler's
// inlining budget (see statusErrs): the status is looked up by its low
// byte, and the flag is the bool's byte (FlagBinary is 1).
func WriteFrame(binary bool, data []byte) error {
	return statusErrs[uint8(importWriteFrame(b2u(binary), unsafe.Pointer(unsafe.SliceData(data)), uint32(len(data))))]
}

// Deliver hands a decoded message to the listeners.
func Deliver(binary bool, data []byte) error {
	return statusErrs[uint8(importDeliver(b2u(binary), unsafe.Pointer(unsafe.SliceData(data)), uint32(len(data))))]
}

// b2u returns 1 for true and 0 for false without a branch.
func b2u(b bool) uint32 { return uint32(*(*uint8)(unsafe.Pointer(&b))) }

//go:build !wasip1

package sdk

import "github.com/edgews/edgews/wasmhost/abi"

// FakeHost stands in for the wasmhost in native builds. Package guesttest
// installs one with SetFake around each dispatch.
type FakeHost interface {
	WriteFrame(flags uint32, data []byte) uint32
	Deliver(flags uint32, data []byte) uint32
	Close(code uint32, reason string) uint32
	GetAttr(key string, buf []byte) int32
	SetAttr(key string, value []byte) uint32
	DeleteAttr(key string) uint32
	ArmTimer(id uint32, afterNs int64) uint32
	Log(level uint32, msg string)
}

var fake FakeHost

// SetFake installs h (nil uninstalls). The caller serialises dispatches.
func SetFake(h FakeHost) { fake = h }

func current() FakeHost {
	if fake == nil {
		panic("guest: host call outside a guesttest dispatch")
	}
	return fake
}

func hostWriteFrame(flags uint32, data []byte) uint32 { return current().WriteFrame(flags, data) }
func hostDeliver(flags uint32, data []byte) uint32    { return current().Deliver(flags, data) }
func hostClose(code uint32, reason string) uint32     { return current().Close(code, reason) }
func hostGetAttr(key string, buf []byte) int32        { return current().GetAttr(key, buf) }
func hostSetAttr(key string, value []byte) uint32     { return current().SetAttr(key, value) }
func hostDeleteAttr(key string) uint32                { return current().DeleteAttr(key) }
func hostArmTimer(id uint32, afterNs int64) uint32    { return current().ArmTimer(id, afterNs) }
func hostLog(level uint32, msg string)                { current().Log(level, msg) }

// WriteFrame queues a frame to the browser.
func WriteFrame(binary bool, data []byte) error {
	return StatusError(hostWriteFrame(flags(binary), data))
}

// Deliver hands a decoded message to the listeners.
func Deliver(binary bool, data []byte) error {
	return StatusError(hostDeliver(flags(binary), data))
}

func flags(binary bool) uint32 {
	if binary {
		return abi.FlagBinary
	}
	return 0
}

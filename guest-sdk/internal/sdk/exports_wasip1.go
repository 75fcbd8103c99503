//go:build wasip1

package sdk

import (
	"unsafe"

	"github.com/edgews/edgews/wasmhost/abi"
)

// input is the buffer the host writes call input into (ABI.md, "Memory
// ownership"). It lives as long as the instance and is only replaced by a
// larger one in edgews_alloc.
var input []byte

//go:wasmexport edgews_abi_version
func exportABIVersion() uint32 { return abi.Version }

//go:wasmexport edgews_alloc
func exportAlloc(n uint32) unsafe.Pointer {
	if uint64(cap(input)) < uint64(n) || cap(input) == 0 {
		c := max(n, 1024)
		input = make([]byte, c)
	}
	input = input[:cap(input)]
	return unsafe.Pointer(&input[0])
}

// in returns the first n bytes of the input buffer, or nil if the host
// claims more than it was given (it never does).
func in(n uint32) []byte {
	if uint64(n) > uint64(len(input)) {
		return nil
	}
	return input[:n:n]
}

//go:wasmexport edgews_init
func exportInit(n uint32) uint32 { return DispatchInit(in(n)) }

//go:wasmexport edgews_open
func exportOpen(n uint32) uint32 { return DispatchOpen(in(n)) }

//go:wasmexport edgews_inbound
func exportInbound(flags, n uint32) uint32 { return DispatchInbound(flags, in(n)) }

//go:wasmexport edgews_outbound
func exportOutbound(flags, n uint32) uint32 { return DispatchOutbound(flags, in(n)) }

//go:wasmexport edgews_close
func exportClose(code, n uint32) uint32 { return DispatchClose(code, in(n)) }

//go:wasmexport edgews_timer
func exportTimer(id uint32) uint32 { return DispatchTimer(id) }

//go:wasmexport edgews_inbound_batch
func exportInboundBatch(count, n uint32) uint32 { return DispatchInboundBatch(count, in(n)) }

//go:wasmexport edgews_outbound_batch
func exportOutboundBatch(count, n uint32) uint32 { return DispatchOutboundBatch(count, in(n)) }

package sdk

import "github.com/edgews/edgews/wasmhost/abi"

// closeAsked records that a handler asked the host to close the socket
// during the current batch: the batch stops after that message, as the
// server drops what a closing socket still had queued.
var closeAsked bool

// DispatchInboundBatch runs the Inbound handler for each message of an
// encoded batch (ABI 1.1, abi.ReadBatch), in order, and stops at the first
// failure, whose status it returns, or after the message whose handler
// asked to close the socket. Before each message it stores the message's
// index in the batch's progress word, which the host reads to give every
// message the budget of a single call.
func DispatchInboundBatch(count uint32, b []byte) (status uint32) {
	defer recovered("inbound", &status)
	return dispatchBatch(count, b, H.Inbound, Deliver, "inbound")
}

// DispatchOutboundBatch is DispatchInboundBatch for the Outbound handler.
func DispatchOutboundBatch(count uint32, b []byte) (status uint32) {
	defer recovered("outbound", &status)
	return dispatchBatch(count, b, H.Outbound, WriteFrame, "outbound")
}

// dispatchBatch runs handler (or, if it is nil, pass) for each message of
// batch b. It calls the handler directly, not through dispatchInbound, and
// reads the batch with the inlined BatchReader.Next: in a Go guest on Wasm
// every function call per message costs tens of nanoseconds, which is
// what batching is meant to save.
func dispatchBatch(count uint32, b []byte, handler func(Message) error, pass func(bool, []byte) error, what string) uint32 {
	r, err := abi.ReadBatch(b, count)
	if err != nil {
		// The host never sends this; refuse it before handling any of it.
		Log(abi.LogError, what+" batch: "+err.Error())
		return abi.StatusBadArgument
	}
	closeAsked = false
	for i := uint32(0); ; i++ {
		fl, data, ok := r.Next()
		if !ok {
			return abi.StatusOK
		}
		abi.PutBatchProgress(b, i)
		m := Message{Binary: fl&abi.FlagBinary != 0, Data: data}
		if handler != nil {
			err = handler(m)
		} else {
			err = pass(m.Binary, m.Data)
		}
		if err != nil {
			return result(what, err)
		}
		if closeAsked {
			return abi.StatusOK
		}
	}
}

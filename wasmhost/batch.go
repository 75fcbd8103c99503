package wasmhost

import (
	"context"

	"github.com/edgews/edgews/wasmhost/abi"
)

// Msg is one message of a batch.
type Msg struct {
	Binary bool
	Data   []byte // valid only during the call
}

// InboundBatch runs msgs, messages from the browser, through the module's
// inbound handler, in order, on one instance. With a module of ABI 1.1 or
// later (it exports the batch functions) that is one guest call per
// abi.MaxBatchCount messages (fewer when they are large: a call carries at
// most abi.MaxBatchBytes, and a message that fits with neither neighbour,
// like a batch of one, goes through the single export); with a 1.0 module
// it is one guest call per message on the same instance.
//
// It returns how many messages were handled (len(msgs) unless the batch
// stopped early). The first failure stops the batch and is returned as a
// *CallError, as for a single call, with CallError.Message naming the
// message that failed: the messages before it have been handled (that
// many are reported), the ones after it have not. The batch also stops
// after the message whose handler asked to close the socket, which is the
// last one reported handled. Each message gets the budget of a single call:
// ModuleConfig.CallTimeout and MaxEmitBytes apply per message (see
// ABI.md, "Limits and the call budget"). An empty batch does nothing.
func (m *Module) InboundBatch(ctx context.Context, h Host, msgs []Msg) (int, error) {
	return m.callN(ctx, h, fnInboundBatch, callIn{msgs: msgs})
}

// OutboundBatch is InboundBatch for messages bound for the browser, through
// the module's outbound handler.
func (m *Module) OutboundBatch(ctx context.Context, h Host, msgs []Msg) (int, error) {
	return m.callN(ctx, h, fnOutboundBatch, callIn{msgs: msgs})
}

// InboundBatch is Module.InboundBatch on the current module.
func (t *Transcoder) InboundBatch(ctx context.Context, h Host, msgs []Msg) (int, error) {
	return t.callN(ctx, h, fnInboundBatch, callIn{msgs: msgs})
}

// OutboundBatch is Module.OutboundBatch on the current module.
func (t *Transcoder) OutboundBatch(ctx context.Context, h Host, msgs []Msg) (int, error) {
	return t.callN(ctx, h, fnOutboundBatch, callIn{msgs: msgs})
}

// single is the per-message export of a batch export.
func (fn fnID) single() fnID {
	if fn == fnOutboundBatch {
		return fnOutbound
	}
	return fnInbound
}

// runBatch passes msgs through fn (fnInboundBatch or fnOutboundBatch): in
// chunks through the batch export if the guest has it, else message by
// message through the single export (also for a chunk of one message). It
// returns how many messages were handled, and nil or a *CallError without
// Module set.
func (inst *instance) runBatch(ctx context.Context, h Host, fn fnID, msgs []Msg) (int, *CallError) {
	var cerr *CallError
	for done := 0; done < len(msgs); {
		n, size := 1, 0
		if inst.fns[fn] != nil { // a guest of ABI 1.1 or later
			n, size = nextChunk(msgs[done:])
		}
		if n == 1 {
			// A 1.0 guest, or a chunk of one message: the single export
			// does the same for less (no batch to encode and decode).
			m := &msgs[done]
			cerr = inst.run(ctx, h, fn.single(), callIn{arg: flags(m.Binary), data: m.Data})
		} else {
			cerr = inst.runChunk(ctx, h, fn, msgs[done:done+n], size)
		}
		if cerr != nil {
			cerr.Message += done
			cerr.Batch = len(msgs)
			return cerr.Message, cerr
		}
		if inst.closeAsked {
			// The socket is closing: the rest is not handled (the server
			// counts it as dropped). In a chunk, the message that asked is
			// the one the progress word named when it asked (the guest
			// SDK stops after it); a guest that does not keep the word is
			// taken to have stopped after the chunk's first message.
			return done + min(int(inst.closeAt)+1, n), nil
		}
		done += n
	}
	return len(msgs), nil
}

// nextChunk returns how many of msgs (at least one) the next batch call
// carries, and the size of their encoding: at most abi.MaxBatchCount
// messages and abi.MaxBatchBytes, unless the first message alone is
// larger.
func nextChunk(msgs []Msg) (n, size int) {
	size = abi.BatchHeaderSize
	for n < len(msgs) && n < abi.MaxBatchCount {
		s := abi.BatchMessageHeaderSize + len(msgs[n].Data)
		if n > 0 && size+s > abi.MaxBatchBytes {
			break
		}
		size += s
		n++
	}
	return n, size
}

// putBatch writes the batch encoding of msgs into b, which holds exactly
// its size (nextChunk): the same bytes as abi.AppendBatchHeader and
// AppendBatchMessage, written in place.
func putBatch(b []byte, msgs []Msg) {
	clear(b[:abi.BatchHeaderSize])
	off := abi.BatchHeaderSize
	for i := range msgs {
		m := &msgs[i]
		abi.PutBatchMessageHeader(b[off:], flags(m.Binary), uint32(len(m.Data)))
		off += abi.BatchMessageHeaderSize
		off += copy(b[off:], m.Data)
	}
}

// runChunk makes one call of the batch export fn with msgs, whose encoding
// is size bytes, written straight into the guest's input buffer. The
// failed message's index in msgs is in the error's Message.
func (inst *instance) runChunk(ctx context.Context, h Host, fn fnID, msgs []Msg, size int) *CallError {
	inst.begin(ctx, h, inst.m.cfg.CallTimeout)
	defer inst.end()
	ptr, err := inst.input(size)
	if err != nil {
		return inst.callError(fn, err)
	}
	buf, ok := inst.mem.Read(ptr, uint32(size))
	if !ok { // input checked the range; memory never shrinks
		return &CallError{Func: fnNames[fn], Kind: KindBadPointer, Detail: "the input buffer is outside memory"}
	}
	putBatch(buf, msgs)
	inst.batchN = uint32(len(msgs))
	stack := inst.stack
	stack[0], stack[1] = uint64(len(msgs)), uint64(size)
	if err := inst.fns[fn].CallWithStack(&inst.cc, stack); err != nil {
		cerr := inst.callError(fn, err)
		cerr.Message = inst.failedMessage()
		return cerr
	}
	if inst.yields > 0 && mono()-inst.start > stackRefreshAfter {
		inst.refresh(fn)
	}
	if status := uint32(stack[0]); status != abi.StatusOK {
		return &CallError{Func: fnNames[fn], Kind: KindGuestStatus, Status: status, Message: inst.failedMessage()}
	}
	return nil
}

// observeProgress reads the progress word of the running batch: the index
// of the message the guest says it is handling. Only an index that moves
// forward and stays inside the batch counts, so a guest can claim at most
// batchN messages' worth of budget, however it writes the word. When it
// moves, the emit cap starts over for the new message; checkBudget also
// starts its deadline over.
func (inst *instance) observeProgress() {
	p, ok := inst.mem.ReadUint32Le(inst.bufPtr)
	if !ok || p <= inst.progress || p >= inst.batchN {
		return
	}
	inst.progress = p
	inst.emitMark = inst.emitted
}

// failedMessage returns the index, in the running batch, of the message
// the guest was handling when the call failed.
func (inst *instance) failedMessage() int {
	inst.observeProgress()
	return int(inst.progress)
}

// what names the unit a limit applies to, for failure details.
func (inst *instance) what() string {
	if inst.batchN > 0 {
		return "batch message"
	}
	return "call"
}

// Package wasmhost runs edgews transcoders: WebAssembly modules that
// rewrite every message of a socket on its way in and out, sandboxed, on
// wazero. It implements the host side of ABI 1.1 (ABI.md; constants in
// package abi), running guests of ABI 1.0 and 1.1, and is what the server
// calls for every message of a route that has a transcoder.
//
// # Using it
//
// One Runtime per server, one Registry on it, one Transcoder handle per
// configured name; the server keeps the handle on its routes and calls it
// with a Host, its own per-socket adapter:
//
//	rt, _ := wasmhost.NewRuntime(ctx, wasmhost.RuntimeConfig{CacheDir: dir, Logger: log})
//	reg := wasmhost.NewRegistry(rt)
//	tr, err := reg.Set(ctx, "socketio", wasm, wasmhost.ModuleConfig{GuestConfig: cfg})
//	...
//	err = tr.Open(ctx, host, wasmhost.SocketInfo{...})   // once, after the upgrade
//	err = tr.Inbound(ctx, host, binary, payload)           // per message from the browser
//	err = tr.Outbound(ctx, host, binary, payload)          // per message to the browser
//	n, err = tr.InboundBatch(ctx, host, msgs)              // all messages of one read, in order
//	n, err = tr.OutboundBatch(ctx, host, msgs)             // all messages queued meanwhile
//	err = tr.Timer(ctx, host, id)                          // when a timer the guest armed fires
//	err = tr.Closed(ctx, host, code, reason)               // last call for the socket
//	err = reg.Replace(ctx, "socketio", newWasm)            // hot swap (file watch, SIGHUP, admin PUT)
//
// A call's error is a *CallError: the server closes the socket it served
// with CallError.CloseCode (1011) and CallError.Reason, and counts it from
// Transcoder.Stats. Nothing a guest does can panic or stop the process.
//
// # Batches
//
// InboundBatch and OutboundBatch pass several messages of one socket on
// one instance checkout, with the meaning of as many Inbound (Outbound)
// calls in a row: in order, stopping at the first failure (CallError.Message
// names the message; the ones before it were handled) or after the message
// whose handler asked to close the socket. A guest of ABI 1.1 (every Go
// guest built with the SDK) gets up to abi.MaxBatchCount messages per guest
// call through its batch exports, which saves the fixed cost of a guest
// call per message (about half the cost of a 100 B identity message at 16
// messages); a 1.0 guest gets one guest call per message. CallTimeout and
// MaxEmitBytes apply per message of a batch (ABI.md, "Limits and the call
// budget").
//
// # Threads of control
//
// Calls for one socket must be serialised by the caller (the server's
// read path does); calls for different sockets run concurrently on a pool
// of instances per module, at most ModuleConfig.MaxInstances, created on
// demand. A call takes an idle instance, runs on the calling goroutine and
// gives the instance back; a call that finds none waits for one (or for its
// context). Host methods are called on the calling goroutine, during the
// call. Replace and Close wait for calls in flight; nothing else blocks.
//
// # The sandbox
//
// A module gets its own linear memory (capped by MaxMemoryPages), the ABI's
// host functions (module "edgews_v1") and a WASI preview 1 module of which
// only these functions do anything:
//
//	args_get, args_sizes_get, environ_get, environ_sizes_get  empty lists
//	clock_time_get, clock_res_get                             realtime and monotonic clocks
//	random_get                                                crypto/rand
//	fd_write on 1 and 2                                       lines into the Logger, with the
//	                                                          module's name, rate-limited;
//	                                                          at most 64 KiB per call (a
//	                                                          short write beyond)
//	fd_read on 0                                              end of file
//	fd_fdstat_get, fd_fdstat_set_flags, fd_close on 0–2       character devices, no-ops
//	fd_prestat_get, fd_prestat_dir_name                       EBADF: no preopened directories
//	poll_oneoff                                               returns at once: clocks fire,
//	                                                          file descriptors fail (EBADF)
//	sched_yield                                               no-op
//	proc_exit                                                 ends the call (KindTrap)
//
// Every other preview 1 function exists, so that Go's os package links,
// and returns ENOSYS: there is no file system, no network, no environment
// and no argument list. Memory pointers from the guest are bounds-checked
// by every host function; out of range is a KindBadPointer failure of that
// call (ABI functions) or EFAULT (WASI functions).
//
// Every call has a wall-clock budget (CallTimeout). Load rewrites each
// module (package internal/instrument) so that every function entry, loop
// head and bulk memory or table instruction takes the cost of the work it
// starts from a fuel global, and calls back into the host when the fuel
// runs out; the host then stops the call if it is past its budget or its
// context is done, and lets other goroutines run. Host functions that
// handle large buffers check the budget too. So an endless loop, runaway
// recursion or copy costs at most its budget, and guests can never hold
// all Go processors. Each call may also emit at most MaxEmitBytes through
// WriteFrame and Deliver.
//
// Host memory is bounded as well: linear memory by MaxMemoryPages, tables
// by the rewrite, a socket's attributes to abi.MaxAttrTotal bytes of the
// guest's (counted in the attribute abi.ReservedAttrKey, which the server
// sees in the socket's attribute store), timers to abi.MaxTimerID+1 per
// socket, and the call stacks a deep recursion grows in wazero are dropped
// after a long call.
//
// A failed call throws its instance away (except a guest's own error
// status, after which the instance is still sound); the slot is refilled
// on demand. Guests keep per-socket state in attributes (Host.Attr and
// SetAttr), never in instance memory, so any instance of any version of a
// module can serve any socket. RATIONALE.md explains these choices.
//
// # Performance
//
// A call allocates nothing on the host: exports are resolved once per
// instance, parameters travel on a reused stack, input is copied into a
// buffer the guest keeps, and host functions find their call state through
// the context wazero hands them. See bench_test.go and RATIONALE.md for
// the figures.
package wasmhost

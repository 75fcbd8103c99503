// Command hostile is a test-only transcoder that misbehaves on request, to
// show that a bad module costs only the call (and socket) it was serving.
// It is never embedded in the server. Each inbound text message selects a
// behaviour; any other message is delivered unchanged:
//
//	loop     spin forever in a loop
//	recurse  recurse without loops, exponentially
//	bomb     allocate memory until the memory cap stops it
//	trap     read past the end of linear memory (a Wasm trap)
//	badptr   hand the host a pointer outside linear memory
//	flood    write frames until the emit cap stops it
//	exit     call os.Exit(3)
//	panic    panic (the SDK recovers: a guest status)
//	error    return an error (a guest status)
//	sleep    time.Sleep for a minute (the budget stops it)
//	print    print five lines to stdout and stderr
//	spin N   busy-wait N milliseconds of wall-clock time, deliver "spun"
//	emit N   write N KiB of binary frames (64 KiB each), deliver nothing
//
// and, to exercise the host calls:
//
//	attrs    set, read back (through the retry for values over 256 bytes),
//	         and delete attributes; deliver what was read
//	timer    arm timer 7 for 5s and timer 8 for 1s, cancel 8; the timer
//	         handler delivers "timer <id>"
//	attrbomb store 64 KiB attributes under new keys until the host refuses,
//	         delete one and store again, try the host's reserved attribute;
//	         deliver what happened
//	timerid  arm timer 256, past the ABI's ids; deliver the error
//	close    ask to close with 4000 "bye"
//	badclose ask to close with the reserved code 1005; deliver the error
//	log      log one line at each level
//
// The guest config "fail-init" makes init fail.
package main

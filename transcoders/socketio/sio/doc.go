// Package sio is the codec of the socketio transcoder: Socket.IO packets
// (protocol revisions 4 and 5, as used over Engine.IO 3 and 4), the
// listener-facing JSON envelopes, and the small JSON scanner both need.
//
// It is plain Go with no dependencies beyond the standard library's
// strconv, strings and unicode/utf8, so it builds into the .wasm module
// unchanged and is tested and fuzzed natively. The JSON scanner validates
// and slices JSON without building values: the transcoder only ever
// re-frames raw JSON (event names and argument lists pass through byte for
// byte), which keeps the module small and the per-message work linear.
package sio

package builtin

import _ "embed"

//go:embed identity.wasm
var identity []byte

//go:embed socketio.wasm
var socketio []byte

// Identity returns the identity transcoder (every message passes through
// unchanged).
func Identity() []byte { return identity }

// SocketIO returns the Socket.IO transcoder (EIO=3 and EIO=4 over
// WebSocket); see transcoders/socketio/README.md.
func SocketIO() []byte { return socketio }

// Names lists the embedded transcoders.
func Names() []string { return []string{"identity", "socketio"} }

// Get returns the embedded transcoder called name.
func Get(name string) ([]byte, bool) {
	switch name {
	case "identity":
		return identity, true
	case "socketio":
		return socketio, true
	}
	return nil, false
}

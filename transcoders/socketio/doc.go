// Command socketio is the edgews transcoder that speaks Socket.IO over the
// WebSocket transport, for both Engine.IO 3 / Socket.IO 2 clients (EIO=3)
// and Engine.IO 4 / Socket.IO 3 and 4 clients (EIO=4), chosen by the EIO
// query parameter of the upgrade request. See README.md for the wire
// behaviour, the listener-facing JSON and the close codes.
//
// Build:
//
//	GOOS=wasip1 GOARCH=wasm go build -trimpath -buildmode=c-shared -o socketio.wasm ./transcoders/socketio
package main

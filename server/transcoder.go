package server

// transcoder is what a route's message transcoder does for its sockets.
// Calls for one socket are serialized by Socket.tmu. The WASM host adapts
// wasmhost modules to it; a nil transcoder passes messages unchanged.
type transcoder interface {
	// name identifies the transcoder in logs and metrics.
	name() string
	// open runs when a socket is accepted, before any message.
	open(s *Socket) error
	// inbound rewrites a message from the browser; what it delivers reaches
	// the listeners.
	inbound(s *Socket, t MessageType, data []byte) error
	// outbound rewrites a message to the browser; what it writes is queued.
	outbound(s *Socket, t MessageType, data []byte) error
	// inboundBatch and outboundBatch run a read round's messages in order
	// (batch.go); the first failure stops the batch.
	inboundBatch(s *Socket, b *msgBatch) error
	outboundBatch(s *Socket, b *msgBatch) error
	// closed runs once after the socket is gone.
	closed(s *Socket, code uint16, reason string)
	// timer runs when a timer the transcoder armed for s fires.
	timer(s *Socket, id uint32) error
}

// Package wire holds the byte encodings that edgews nodes exchange with each
// other: the batch body of the payload path and the payload and reply of the
// exists query that travels over serf.
//
// Every decoder here reads bytes that arrive from the network, so every one is
// written to be total: it returns an error for any input it does not accept,
// never panics, never allocates more than the input and the configured limits
// allow, and has a fuzz target with a seed corpus under testdata/.
//
// Why a hand-written binary format instead of JSON or msgpack? The batch body
// carries user payloads of up to the server's maximum message size (1 MiB by
// default, configurable) and is decoded on the receiving node's hot path.
// Length-prefixed fields let the decoder hand out sub-slices of the request
// body without copying payloads or escaping them, and the limits are checked
// before anything is allocated. The query payload must fit into serf's query
// and packet size limits (one UDP gossip packet including serf's own framing),
// which a compact format makes easy to guarantee.
//
// Batch body, version 1 (all integers unsigned; uvarint is encoding/binary's):
//
//	"EWB" 0x01            magic and version
//	stream   8 bytes BE   sender's stream id (random per destination queue)
//	seq      uvarint      batch sequence number within the stream, from 1
//	destBoot 8 bytes BE   boot id of the destination incarnation addressed
//	count    uvarint      number of messages
//	count times:
//	  flags  1 byte       bit 0: binary message; other bits must be 0
//	  context, user, path uvarint length + bytes each
//	  data                uvarint length + bytes
//
// Exists query payload, version 1 (at most MaxQueryPayload bytes): "EWQ" 0x01
// then context, user and path as uvarint length + bytes. Exists reply,
// version 1: "EWR" 0x01, a status byte (0 ok, 1 error, 2 overloaded) and the
// socket count as uvarint.
package wire

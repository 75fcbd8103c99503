// Package hmacauth authenticates requests on the node-to-node payload path.
//
// A request carries six headers: the sending node's name, the destination
// node's name, a timestamp, a random nonce, the SHA-256 digest of the body
// and an HMAC-SHA256 over all of them plus the method and path. The receiver
// checks that the request is addressed to itself (so a request captured on
// its way to one node cannot be replayed to another, whose nonce cache has
// not seen it) and the signature before it reads a single byte of the body
// (so an unauthenticated peer cannot make it buffer megabytes), then checks
// the timestamp window and the nonce, and finally the body against the
// signed digest.
//
// The key is derived with HKDF-SHA256 from a cluster secret (the serf
// encryption key or a configured token), so the gossip key itself is never
// used for two purposes. Everyone holding the secret can sign as any node:
// this authenticates cluster membership, not individual nodes.
package hmacauth

// Package gossip is the edgews cluster layer: membership, failure
// detection, and the cluster-wide operations of the socket service (exists,
// send, close-session, stats) as a library the server embeds.
//
// The server implements Local (its own sockets as the cluster sees them),
// creates a Node with New, starts it, and from then on does the local part
// of every operation itself and asks the Node for the rest:
//
//	n, err := gossip.New(cfg, local, logger) // validate; nothing bound yet
//	err = n.Start(ctx)                      // bind, answer peers, join in the background
//	res, err := n.Exists(ctx, q, gossip.ExistsOptions{})
//	k, err := n.Send(ctx, m)                // queue for every other live member
//	cnt, err := n.CloseSession(ctx, id)
//	stats, err := n.Stats(ctx)
//	n.SetQueueSettings(s)                   // reload delay / max delay / timer frequency
//	n.Leave(ctx)                            // graceful; or n.Shutdown() for a hard stop
//	<-n.Done()                              // closed when the node stops, also on its own
//
// # Two channels: serf for control, HTTP for payloads
//
// hashicorp/serf (on memberlist) provides membership, failure detection
// and small broadcast queries over UDP gossip, encrypted and authenticated
// with AES-GCM when Config.EncryptKey is set. Its messages must fit into
// one UDP packet (about 1.4 KB), so it carries only what is small:
// membership, each member's tags, and the exists query with its answers.
//
// Messages (up to Config.MaxMessageSize, 1 MiB by default, configurable)
// travel on a separate payload path: plain HTTP/1.1 (or HTTPS with
// Config.PayloadTLS) between the members' internal addresses, which each
// member advertises in its serf tags. Every request carries an HMAC-SHA256
// signature over method, path, sender, destination, timestamp, nonce and
// body digest, keyed with a key derived (HKDF) from the cluster key or
// Config.PayloadSecret; requests without a valid signature get 401 and are
// counted (Metrics.AuthFailures). The signature is checked before the body
// is read. Payloads are authenticated but not encrypted unless PayloadTLS
// is set. RATIONALE.md explains the choice and its trade-offs.
//
// # Exists
//
// Exists sends a serf query ("edgews-exists-v1") with context, user and
// path filter. Every member that receives it asks its Local.Count and
// answers directly to the asking node. Exists returns at the first
// positive answer, or once every member that was alive when it started
// (and is still alive) has answered, or at the timeout. Members that fail
// meanwhile are dropped from the wait as soon as serf declares them failed.
// How fast the query spreads is set by Timing.GossipInterval (5 ms).
//
// # Send, remote queues, order and duplicates
//
// Send copies the message once and appends it to one bounded FIFO queue
// per live member (a peer). A goroutine per peer sends the queue in
// batches, one batch in flight at a time, according to QueueSettings
// (Delay, MaxDelay, TimerFrequency, named after Open-Xchange's
// remote-communication settings; Delay 0 sends at once). A batch carries the
// sender's stream id (random per peer queue), a sequence number and the
// destination's boot id. The receiver applies a batch's messages in order
// with Local.Deliver and remembers the last sequence number per stream, so
// a batch retried after a lost acknowledgement is acknowledged but not
// applied again. Together: messages from one node to one user arrive at
// each of that user's sockets in send order and at most once; they arrive
// exactly once unless the destination fails for longer than
// Config.FailedQueueGrace, leaves or restarts, in which case its queue is
// dropped and counted (Metrics.DropsNodeGone) — its sockets are gone too. A
// full queue drops the message for that member
// only, counts it (Metrics.DropsOverflow), logs it rate-limited, and makes
// Send return ErrQueueFull.
//
// # Node loss and restarts
//
// memberlist probes members; a member that stops answering is suspected
// and, unless it refutes, declared failed. With DefaultTiming that takes at
// most Timing.FailureDetectionBound(n): 1.61 s for 3 members (measured in
// TestNodeLoss: about 1.1–1.4 s until Exists no longer waits for the dead
// node). From then on Exists, Stats and CloseSession leave it out. Its queue
// is kept for Config.FailedQueueGrace (30 s) in case it was only
// unreachable (a false suspicion on a starved machine, a short partition):
// if it comes back as the same process, the queue resumes where it stopped.
// Otherwise the queue is dropped at the end of the grace. A restarted
// process has a new boot id: its old queue is dropped at once, a new peer
// with a new stream starts, and a batch still addressed to the old
// incarnation is refused with 409. A process that comes back on another
// address may take over the name of a member declared failed
// (Timing.DeadNodeReclaimTime); one that comes back before its old
// incarnation was declared failed loses serf's name conflict and stops, and
// Node.Done tells the server.
//
// # Concurrency
//
// All Node methods are safe for concurrent use. serf delivers events to one
// goroutine (eventLoop), which never blocks: membership changes update the
// peer map, exists queries are answered on at most Config.QueryWorkers
// goroutines. Each peer has one sender goroutine. The payload server runs
// handlers on net/http's goroutines; a batch is applied under a per-sender
// lock. Local's methods are called from all of these, with contexts that
// Shutdown cancels; Shutdown returns only after every call into Local has
// returned, so Local must honour its context (and must not call Shutdown
// itself).
package gossip

package gossip

import (
	"sort"
	"sync/atomic"
	"time"
)

// Metrics is a snapshot of a node's counters, returned by Node.Metrics. All
// counters are totals since New; the server exports them (for example to
// Prometheus) as they are.
type Metrics struct {
	// Remote queues, sending side. A message queued for two members counts
	// twice in MessagesQueued.
	MessagesQueued uint64 // messages accepted into a destination queue
	MessagesSent   uint64 // messages acknowledged by their destination
	BytesSent      uint64 // batch body bytes acknowledged
	BatchesSent    uint64 // batches acknowledged
	BatchRetries   uint64 // batch requests that failed and were retried

	// Messages dropped for a destination, by reason.
	DropsOverflow uint64 // destination queue full
	DropsNodeGone uint64 // destination failed, left or restarted
	DropsRejected uint64 // destination refused the batch (limits differ between members)
	DropsShutdown uint64 // still queued when this node shut down

	// Payload path, receiving side.
	BatchesReceived   uint64
	MessagesReceived  uint64 // messages handed to Local.Deliver
	DuplicateBatches  uint64 // retried batches recognised by sequence number and skipped
	DeliverErrors     uint64 // Local.Deliver calls that returned an error
	AuthFailures      uint64 // payload requests rejected with 401
	BadRequests       uint64 // authenticated payload requests that did not decode (400/413)
	PeerAuthRejection uint64 // our own requests a member rejected with 401

	// Exists, asking side.
	ExistsQueries    uint64
	ExistsFound      uint64
	ExistsIncomplete uint64 // returned before every expected member answered, without a positive answer
	ExistsLatency    Histogram
	// Exists, answering side.
	QueriesAnswered   uint64
	QueriesOverloaded uint64 // answered "overloaded" because QueryWorkers were busy

	// Stats and CloseSession fan-out calls to members, and those that failed.
	RPCCalls  uint64
	RPCErrors uint64
	// BatchLatency is the round trip of acknowledged batch requests.
	BatchLatency Histogram

	// Membership.
	JoinAttempts   uint64
	JoinFailures   uint64
	MemberJoins    uint64
	MemberFailures uint64
	MemberLeaves   uint64

	// Peers lists one entry per destination queue.
	Peers []PeerMetrics
}

// PeerMetrics describes one destination queue.
type PeerMetrics struct {
	Name          string
	QueueMessages int   // waiting, not counting the batch in flight
	QueueBytes    int64 // encoded bytes waiting (payload, context, user, path)
	InFlight      int   // messages in the batch in flight
	Failed        bool  // member declared failed; queue kept for Config.FailedQueueGrace
}

// Histogram is a snapshot of a latency histogram with fixed buckets.
type Histogram struct {
	// Bounds are the bucket upper bounds in seconds, ascending.
	Bounds []float64
	// Cumulative[i] counts observations <= Bounds[i].
	Cumulative []uint64
	Count      uint64
	// Sum of all observations in seconds.
	Sum float64
}

// latencyBounds suits loopback and LAN round trips up to timeouts.
var latencyBounds = []float64{0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

type histogram struct {
	buckets [14]atomic.Uint64 // len(latencyBounds)+1; the last is +Inf
	count   atomic.Uint64
	sumNs   atomic.Uint64
}

func (h *histogram) observe(d time.Duration) {
	s := d.Seconds()
	i := sort.SearchFloat64s(latencyBounds, s)
	h.buckets[i].Add(1)
	h.count.Add(1)
	if d > 0 {
		h.sumNs.Add(uint64(d))
	}
}

func (h *histogram) snapshot() Histogram {
	out := Histogram{
		Bounds:     append([]float64(nil), latencyBounds...),
		Cumulative: make([]uint64, len(latencyBounds)),
		Count:      h.count.Load(),
		Sum:        time.Duration(h.sumNs.Load()).Seconds(),
	}
	var acc uint64
	for i := range latencyBounds {
		acc += h.buckets[i].Load()
		out.Cumulative[i] = acc
	}
	return out
}

// counters are the live atomics behind Metrics.
type counters struct {
	messagesQueued, messagesSent, bytesSent, batchesSent, batchRetries atomic.Uint64
	dropsOverflow, dropsNodeGone, dropsRejected, dropsShutdown         atomic.Uint64
	batchesReceived, messagesReceived, duplicateBatches, deliverErrors atomic.Uint64
	authFailures, badRequests, peerAuthRejection                       atomic.Uint64
	existsQueries, existsFound, existsIncomplete                       atomic.Uint64
	queriesAnswered, queriesOverloaded                                 atomic.Uint64
	rpcCalls, rpcErrors                                                atomic.Uint64
	joinAttempts, joinFailures                                         atomic.Uint64
	memberJoins, memberFailures, memberLeaves                          atomic.Uint64
	existsLatency, batchLatency                                        histogram
}

func (c *counters) snapshot() Metrics {
	return Metrics{
		MessagesQueued:    c.messagesQueued.Load(),
		MessagesSent:      c.messagesSent.Load(),
		BytesSent:         c.bytesSent.Load(),
		BatchesSent:       c.batchesSent.Load(),
		BatchRetries:      c.batchRetries.Load(),
		DropsOverflow:     c.dropsOverflow.Load(),
		DropsNodeGone:     c.dropsNodeGone.Load(),
		DropsRejected:     c.dropsRejected.Load(),
		DropsShutdown:     c.dropsShutdown.Load(),
		BatchesReceived:   c.batchesReceived.Load(),
		MessagesReceived:  c.messagesReceived.Load(),
		DuplicateBatches:  c.duplicateBatches.Load(),
		DeliverErrors:     c.deliverErrors.Load(),
		AuthFailures:      c.authFailures.Load(),
		BadRequests:       c.badRequests.Load(),
		PeerAuthRejection: c.peerAuthRejection.Load(),
		ExistsQueries:     c.existsQueries.Load(),
		ExistsFound:       c.existsFound.Load(),
		ExistsIncomplete:  c.existsIncomplete.Load(),
		ExistsLatency:     c.existsLatency.snapshot(),
		QueriesAnswered:   c.queriesAnswered.Load(),
		QueriesOverloaded: c.queriesOverloaded.Load(),
		RPCCalls:          c.rpcCalls.Load(),
		RPCErrors:         c.rpcErrors.Load(),
		BatchLatency:      c.batchLatency.snapshot(),
		JoinAttempts:      c.joinAttempts.Load(),
		JoinFailures:      c.joinFailures.Load(),
		MemberJoins:       c.memberJoins.Load(),
		MemberFailures:    c.memberFailures.Load(),
		MemberLeaves:      c.memberLeaves.Load(),
	}
}

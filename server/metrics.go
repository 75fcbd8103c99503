package server

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/edgews/edgews/gossip"
	"github.com/edgews/edgews/server/session"
	"github.com/edgews/edgews/wasmhost"
)

// metrics exposes the server's counters to Prometheus. The hot path only
// touches atomics; this collector reads them at scrape time.
type metrics struct {
	s         *Server
	reg       *prometheus.Registry
	verify    *prometheus.HistogramVec
	webhook   *prometheus.CounterVec
	handler   fasthttp.RequestHandler
	sockets   *prometheus.Desc
	opened    *prometheus.Desc
	closed    *prometheus.Desc
	messages  *prometheus.Desc
	bytes     *prometheus.Desc
	dropped   *prometheus.Desc
	droppedIn *prometheus.Desc
	events    *prometheus.Desc
	rejected  *prometheus.Desc
	sessions  *prometheus.Desc
	partial   *prometheus.Desc
	users     *prometheus.Desc
	verifier  *prometheus.Desc
	cluster   *prometheus.Desc
	queue     *prometheus.Desc
	members   *prometheus.Desc
	existsH   *prometheus.Desc
	batchH    *prometheus.Desc
	trCalls   *prometheus.Desc
	trBatch   *prometheus.Desc
	trFails   *prometheus.Desc
	trInst    *prometheus.Desc
	trSwaps   *prometheus.Desc
}

func newMetrics(s *Server, reg *prometheus.Registry) *metrics {
	m := &metrics{
		s:   s,
		reg: reg,
		verify: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "edgews_session_verify_seconds",
			Help:    "Time to verify the session of an upgrade, by result (ok, unauthenticated, unavailable).",
			Buckets: []float64{.0001, .0005, .001, .005, .01, .05, .1, .5, 1, 5},
		}, []string{"result"}),
		webhook: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edgews_webhook_events_total",
			Help: "Webhook events by outcome: queued, delivered, dropped (queue full), failed (retries exhausted).",
		}, []string{"outcome"}),
		sockets:   prometheus.NewDesc("edgews_sockets", "Open sockets by route.", []string{"route"}, nil),
		opened:    prometheus.NewDesc("edgews_sockets_opened_total", "Sockets accepted by route.", []string{"route"}, nil),
		closed:    prometheus.NewDesc("edgews_sockets_closed_total", "Sockets closed by route and cause.", []string{"route", "cause"}, nil),
		messages:  prometheus.NewDesc("edgews_messages_total", "Data messages by route and direction (in: from browsers, out: to browsers).", []string{"route", "direction"}, nil),
		bytes:     prometheus.NewDesc("edgews_bytes_total", "Bytes on the wire by route and direction.", []string{"route", "direction"}, nil),
		dropped:   prometheus.NewDesc("edgews_outbound_dropped_total", "Outgoing messages not written (queue full, drop-oldest, socket gone) by route.", []string{"route"}, nil),
		droppedIn: prometheus.NewDesc("edgews_inbound_dropped_total", "Incoming data messages read but not delivered (arrived after the close began, or left unhandled by a transcoder that failed or asked to close) by route.", []string{"route"}, nil),
		events:    prometheus.NewDesc("edgews_socket_events_total", "Socket events by route and kind: slow_consumer, ping_timeout, read_timeout, write_timeout, protocol_error.", []string{"route", "event"}, nil),
		rejected:  prometheus.NewDesc("edgews_upgrades_rejected_total", "Refused upgrades by reason.", []string{"reason"}, nil),
		sessions:  prometheus.NewDesc("edgews_sessions", "Sessions with at least one open socket.", nil, nil),
		partial:   prometheus.NewDesc("edgews_partial_message_bytes", "Bytes held for messages not fully received yet, all sockets (limits.max_partial_bytes caps it).", nil, nil),
		users:     prometheus.NewDesc("edgews_users", "Users with at least one open socket.", nil, nil),
		verifier:  prometheus.NewDesc("edgews_http_verifier_total", "http verifier activity: backend calls, cache hits, coalesced waits, rejections, unavailable answers.", []string{"kind"}, nil),
		cluster:   prometheus.NewDesc("edgews_cluster_events_total", "Cluster layer counters by kind (messages_queued, messages_sent, drops_overflow, drops_node_gone, auth_failures, exists_queries, ...).", []string{"kind"}, nil),
		queue:     prometheus.NewDesc("edgews_cluster_queue_messages", "Messages waiting in the remote queue for each member.", []string{"member"}, nil),
		members:   prometheus.NewDesc("edgews_cluster_members", "Cluster members by status as this node sees them.", []string{"status"}, nil),
		existsH:   prometheus.NewDesc("edgews_cluster_exists_seconds", "Latency of cluster-wide exists queries.", nil, nil),
		batchH:    prometheus.NewDesc("edgews_cluster_batch_seconds", "Round trip of remote-queue batches.", nil, nil),
		trCalls:   prometheus.NewDesc("edgews_transcoder_calls_total", "Calls into a transcoder module (a batch of a read round's messages is one call).", []string{"transcoder"}, nil),
		trBatch:   prometheus.NewDesc("edgews_transcoder_batch_messages_total", "Messages passed to a transcoder in batch calls.", []string{"transcoder"}, nil),
		trFails:   prometheus.NewDesc("edgews_transcoder_failures_total", "Failed transcoder calls by kind (timeout, trap, memory_limit, emit_limit, bad_pointer, guest_status, ...); each closed its socket with 1011.", []string{"transcoder", "kind"}, nil),
		trInst:    prometheus.NewDesc("edgews_transcoder_instances", "Live instances of a transcoder module.", []string{"transcoder"}, nil),
		trSwaps:   prometheus.NewDesc("edgews_transcoder_swaps_total", "Hot swaps of a transcoder module.", []string{"transcoder"}, nil),
	}
	reg.MustRegister(m, m.verify, m.webhook)
	// Process and Go runtime metrics, unless the caller's registry has them.
	_ = reg.Register(collectors.NewGoCollector())
	_ = reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.handler = fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return m
}

func (m *metrics) observeVerify(d time.Duration, err error) {
	result := "ok"
	switch {
	case err == nil:
	case errors.Is(err, session.ErrUnauthenticated):
		result = "unauthenticated"
	default:
		result = "unavailable"
	}
	m.verify.WithLabelValues(result).Observe(d.Seconds())
}

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.sockets, m.opened, m.closed, m.messages, m.bytes, m.dropped, m.droppedIn, m.events, m.rejected, m.sessions, m.partial, m.users, m.verifier, m.cluster, m.queue, m.members, m.existsH, m.batchH, m.trCalls, m.trBatch, m.trFails, m.trInst, m.trSwaps} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	gauge, counter := prometheus.GaugeValue, prometheus.CounterValue
	for _, rs := range m.s.book.allRoutes() {
		r := rs.path
		ch <- prometheus.MustNewConstMetric(m.sockets, gauge, float64(rs.sockets.Load()), r)
		ch <- prometheus.MustNewConstMetric(m.opened, counter, float64(rs.opened.Load()), r)
		for cause, c := range rs.closed {
			ch <- prometheus.MustNewConstMetric(m.closed, counter, float64(c.Load()), r, cause)
		}
		st := &rs.conn
		ch <- prometheus.MustNewConstMetric(m.messages, counter, float64(st.MessagesIn.Load()), r, "in")
		ch <- prometheus.MustNewConstMetric(m.messages, counter, float64(st.MessagesOut.Load()), r, "out")
		ch <- prometheus.MustNewConstMetric(m.bytes, counter, float64(st.BytesIn.Load()), r, "in")
		ch <- prometheus.MustNewConstMetric(m.bytes, counter, float64(st.BytesOut.Load()), r, "out")
		ch <- prometheus.MustNewConstMetric(m.dropped, counter, float64(st.DroppedOut.Load()), r)
		ch <- prometheus.MustNewConstMetric(m.droppedIn, counter, float64(st.DroppedIn.Load()), r)
		for ev, v := range map[string]uint64{
			"slow_consumer":  st.SlowClosed.Load(),
			"ping_timeout":   st.PingTimeouts.Load(),
			"read_timeout":   st.ReadTimeouts.Load(),
			"write_timeout":  st.WriteTimeouts.Load(),
			"protocol_error": st.ProtocolErrors.Load(),
			"too_big":        st.TooBig.Load(),
			"invalid_utf8":   st.InvalidUTF8.Load(),
			"control_flood":  st.ControlFloods.Load(),
			"partial_budget": st.PartialBudget.Load(),
		} {
			ch <- prometheus.MustNewConstMetric(m.events, counter, float64(v), r, ev)
		}
	}
	for reason, c := range m.s.book.rejected {
		ch <- prometheus.MustNewConstMetric(m.rejected, counter, float64(c.Load()), reason)
	}
	sessions, users := m.s.reg.counts()
	ch <- prometheus.MustNewConstMetric(m.sessions, gauge, float64(sessions))
	ch <- prometheus.MustNewConstMetric(m.partial, gauge, float64(m.s.partial.Used()))
	ch <- prometheus.MustNewConstMetric(m.users, gauge, float64(users))
	if n := m.s.cluster; n != nil {
		m.collectCluster(ch, n)
	}
	if w := m.s.wasm; w != nil {
		for _, name := range w.reg.Names() {
			t := w.reg.Get(name)
			if t == nil {
				continue
			}
			st := t.Stats()
			ch <- prometheus.MustNewConstMetric(m.trCalls, prometheus.CounterValue, float64(st.Calls), name)
			ch <- prometheus.MustNewConstMetric(m.trBatch, prometheus.CounterValue, float64(st.BatchMessages), name)
			ch <- prometheus.MustNewConstMetric(m.trInst, prometheus.GaugeValue, float64(st.Instances), name)
			ch <- prometheus.MustNewConstMetric(m.trSwaps, prometheus.CounterValue, float64(t.Swaps()), name)
			for k, v := range st.Failures {
				ch <- prometheus.MustNewConstMetric(m.trFails, prometheus.CounterValue, float64(v), name, wasmhost.Kind(k).String())
			}
		}
	}
	if h, ok := m.s.verifier().(*session.HTTP); ok {
		for kind, v := range map[string]uint64{
			"call":        h.Stats.Calls.Load(),
			"cache_hit":   h.Stats.CacheHits.Load(),
			"coalesced":   h.Stats.Coalesced.Load(),
			"rejected":    h.Stats.Rejected.Load(),
			"unavailable": h.Stats.Unavailable.Load(),
		} {
			ch <- prometheus.MustNewConstMetric(m.verifier, counter, float64(v), kind)
		}
	}
}

func (m *metrics) collectCluster(ch chan<- prometheus.Metric, n *gossip.Node) {
	mt := n.Metrics()
	for kind, v := range map[string]uint64{
		"messages_queued": mt.MessagesQueued, "messages_sent": mt.MessagesSent, "bytes_sent": mt.BytesSent,
		"batches_sent": mt.BatchesSent, "batch_retries": mt.BatchRetries,
		"drops_overflow": mt.DropsOverflow, "drops_node_gone": mt.DropsNodeGone, "drops_rejected": mt.DropsRejected, "drops_shutdown": mt.DropsShutdown,
		"batches_received": mt.BatchesReceived, "messages_received": mt.MessagesReceived, "duplicate_batches": mt.DuplicateBatches,
		"deliver_errors": mt.DeliverErrors, "auth_failures": mt.AuthFailures, "bad_requests": mt.BadRequests, "peer_auth_rejections": mt.PeerAuthRejection,
		"exists_queries": mt.ExistsQueries, "exists_found": mt.ExistsFound, "exists_incomplete": mt.ExistsIncomplete,
		"queries_answered": mt.QueriesAnswered, "queries_overloaded": mt.QueriesOverloaded,
		"rpc_calls": mt.RPCCalls, "rpc_errors": mt.RPCErrors,
		"join_attempts": mt.JoinAttempts, "join_failures": mt.JoinFailures,
		"member_joins": mt.MemberJoins, "member_failures": mt.MemberFailures, "member_leaves": mt.MemberLeaves,
	} {
		ch <- prometheus.MustNewConstMetric(m.cluster, prometheus.CounterValue, float64(v), kind)
	}
	for _, p := range mt.Peers {
		ch <- prometheus.MustNewConstMetric(m.queue, prometheus.GaugeValue, float64(p.QueueMessages+p.InFlight), p.Name)
	}
	byStatus := map[string]int{"alive": 0, "leaving": 0, "left": 0, "failed": 0}
	for _, mem := range n.Members() {
		byStatus[mem.Status.String()]++
	}
	for st, c := range byStatus {
		ch <- prometheus.MustNewConstMetric(m.members, prometheus.GaugeValue, float64(c), st)
	}
	for _, h := range []struct {
		d    *prometheus.Desc
		hist gossip.Histogram
	}{{m.existsH, mt.ExistsLatency}, {m.batchH, mt.BatchLatency}} {
		if hm, err := constHistogram(h.d, h.hist); err == nil {
			ch <- hm
		}
	}
}

func constHistogram(d *prometheus.Desc, h gossip.Histogram) (prometheus.Metric, error) {
	buckets := make(map[float64]uint64, len(h.Bounds))
	for i, b := range h.Bounds {
		if i < len(h.Cumulative) {
			buckets[b] = h.Cumulative[i]
		}
	}
	return prometheus.NewConstHistogram(d, h.Count, h.Sum, buckets)
}

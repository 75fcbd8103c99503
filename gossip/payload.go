package gossip

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/edgews/edgews/gossip/internal/wire"
)

// Payload path endpoints. All are POST and authenticated (see hmacauth).
const (
	pathBatch        = "/edgews/gossip/v1/batch"
	pathStats        = "/edgews/gossip/v1/stats"
	pathCloseSession = "/edgews/gossip/v1/close-session"
)

const (
	maxSessionID     = 1024
	maxStatsResponse = 8 << 20
	maxSmallResponse = 4 << 10
)

func (n *Node) newPayloadServer() *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+pathBatch, n.handleBatch)
	mux.HandleFunc("POST "+pathStats, n.handleStats)
	mux.HandleFunc("POST "+pathCloseSession, n.handleCloseSession)
	return &http.Server{
		Handler:           n.tracked(mux),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       n.cfg.DeliveryTimeout,
		WriteTimeout:      n.cfg.DeliveryTimeout + n.cfg.RPCTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    8 << 10,
		ErrorLog:          slog.NewLogLogger(n.log.Handler(), slog.LevelDebug),
	}
}

// tracked counts the requests being served in n.handlers, so that Shutdown
// can wait for them, and refuses new ones (503, retried by the sender) once
// the node is closed. The request context is cancelled at Shutdown too.
func (n *Node) tracked(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.mu.RLock()
		closed := n.state == stateClosed
		if !closed {
			n.handlers.Add(1)
		}
		n.mu.RUnlock()
		if closed {
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		defer n.handlers.Done()
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		stop := context.AfterFunc(n.life, cancel)
		defer stop()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// maxBatchBody is the largest batch body a member accepts.
func (n *Node) maxBatchBody() int64 {
	return int64(wire.BatchHeaderSize) + int64(max(n.cfg.MaxBatchBytes, n.cfg.MaxMessageSize)) + 4*(MaxFieldSize+16)
}

// readAuthenticated checks the request's signature before reading the body,
// reads at most limit bytes and checks the body against the signed digest.
// On failure it has written the response and returns ok == false.
func (n *Node) readAuthenticated(w http.ResponseWriter, r *http.Request, limit int64) (string, []byte, bool) {
	claims, err := n.verifier.Verify(r.Header, r.Method, r.URL.Path, n.cfg.NodeName, time.Now())
	if err != nil {
		n.unauthorized(w, r, err)
		return "", nil, false
	}
	if r.ContentLength > limit {
		n.m.badRequests.Add(1)
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return "", nil, false
	}
	var body []byte
	if r.ContentLength >= 0 {
		body = make([]byte, r.ContentLength)
		_, err = io.ReadFull(r.Body, body)
	} else {
		body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	}
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			n.m.badRequests.Add(1)
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		} else {
			// A broken or slow upload, not a bad batch: the sender must
			// retry it, and it drops batches answered 400.
			http.Error(w, "read error", http.StatusServiceUnavailable)
		}
		return "", nil, false
	}
	if err := claims.CheckBody(body); err != nil {
		n.unauthorized(w, r, err)
		return "", nil, false
	}
	return claims.Node, body, true
}

func (n *Node) unauthorized(w http.ResponseWriter, r *http.Request, err error) {
	n.m.authFailures.Add(1)
	n.warnLimited("auth", "gossip: rejected unauthenticated payload request",
		slog.String("remote", r.RemoteAddr), slog.String("path", r.URL.Path), slog.Any("error", err))
	http.Error(w, "unauthorized", http.StatusUnauthorized)
}

// handleBatch applies a batch from another member: each message in order,
// once. A batch whose sequence number was already applied in its stream is
// acknowledged without applying it again.
func (n *Node) handleBatch(w http.ResponseWriter, r *http.Request) {
	sender, body, ok := n.readAuthenticated(w, r, n.maxBatchBody())
	if !ok {
		return
	}
	b, err := wire.DecodeBatch(body, wire.Limits{
		MaxMessages: n.cfg.MaxBatchMessages,
		MaxField:    MaxFieldSize,
		MaxData:     n.cfg.MaxMessageSize,
	})
	if err != nil {
		n.m.badRequests.Add(1)
		n.warnLimited("decode:"+sender, "gossip: undecodable batch", slog.String("member", sender), slog.Any("error", err))
		http.Error(w, "bad batch", http.StatusBadRequest)
		return
	}
	if b.DestBoot != n.boot {
		http.Error(w, "addressed to another incarnation", http.StatusConflict)
		return
	}

	// Batches of one sender are applied one at a time. A request that
	// waits for its turn gives up when its sender does (a retry will come)
	// or at Shutdown.
	st := n.inboundFor(sender)
	select {
	case st.sem <- struct{}{}:
	case <-r.Context().Done():
		http.Error(w, "gave up waiting for the previous batch", http.StatusServiceUnavailable)
		return
	}
	defer func() { <-st.sem }()
	slot, last := st.lastSeq(b.Stream)
	if b.Seq <= last {
		n.m.duplicateBatches.Add(1)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	// Apply with a context that outlives the request: once started, a
	// batch is applied completely, so the recorded sequence number never
	// covers half a batch. Only Shutdown cancels it; after that this
	// incarnation's sequence numbers no longer matter.
	ctx := n.life
	for i := range b.Msgs {
		if ctx.Err() != nil {
			// Shutting down: leave the rest unacknowledged; this node's
			// sockets are going away with it.
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		m := &b.Msgs[i]
		if _, err := n.local.Deliver(ctx, Message{Context: m.Context, User: m.User, Path: m.Path, Binary: m.Binary, Data: m.Data}); err != nil {
			n.m.deliverErrors.Add(1)
			n.warnLimited("deliver", "gossip: local delivery failed", slog.String("member", sender), slog.Any("error", err))
		}
	}
	st.streams[slot].seq = b.Seq
	n.m.batchesReceived.Add(1)
	n.m.messagesReceived.Add(uint64(len(b.Msgs)))
	w.WriteHeader(http.StatusNoContent)
}

func (n *Node) handleStats(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := n.readAuthenticated(w, r, 0); !ok {
		return
	}
	stats, err := n.local.Stats(r.Context())
	if err != nil {
		http.Error(w, "stats: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(stats)
}

type closeSessionReply struct {
	Closed int `json:"closed"`
}

func (n *Node) handleCloseSession(w http.ResponseWriter, r *http.Request) {
	_, body, ok := n.readAuthenticated(w, r, maxSessionID)
	if !ok {
		return
	}
	count, err := n.local.CloseSession(r.Context(), string(body))
	if err != nil {
		http.Error(w, "close session: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(closeSessionReply{Closed: count})
}

// inboundState remembers, per sending member, the last applied sequence
// number of its most recent streams. Keeping a few streams (not just the
// newest) means a late retry from a replaced queue cannot reset the state
// of the current one.
type inboundState struct {
	sem     chan struct{} // capacity 1: held while a batch is applied
	streams [4]struct{ id, seq uint64 }
	next    int // slot to evict next
}

// lastSeq returns the slot of stream and the last sequence number applied in
// it, making room for a new stream if needed. Callers hold s.sem.
func (s *inboundState) lastSeq(stream uint64) (int, uint64) {
	for i := range s.streams {
		if s.streams[i].id == stream {
			return i, s.streams[i].seq
		}
	}
	i := s.next
	s.next = (s.next + 1) % len(s.streams)
	s.streams[i].id, s.streams[i].seq = stream, 0
	return i, 0
}

func (n *Node) inboundFor(sender string) *inboundState {
	n.recvMu.Lock()
	defer n.recvMu.Unlock()
	s := n.inbound[sender]
	if s == nil {
		s = &inboundState{sem: make(chan struct{}, 1)}
		n.inbound[sender] = s
	}
	return s
}

func (n *Node) forgetInbound(sender string) {
	n.recvMu.Lock()
	delete(n.inbound, sender)
	n.recvMu.Unlock()
}

// newPayloadClient returns the HTTP client for the payload path. It never
// uses proxies from the environment: members talk to each other directly.
func newPayloadClient(tlsConf *tls.Config, timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Client{
		Transport: &http.Transport{
			DialContext:           d.DialContext,
			TLSClientConfig:       tlsConf,
			TLSHandshakeTimeout:   2 * time.Second,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       90 * time.Second,
			ResponseHeaderTimeout: timeout,
			DisableCompression:    true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// post sends a signed request to the payload path of member to at baseURL
// and returns the status and up to limit bytes of the response body.
func (n *Node) post(ctx context.Context, to, baseURL, path string, body []byte, limit int64) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, fmt.Errorf("gossip: request: %w", err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	if err := n.signer.Sign(req.Header, http.MethodPost, path, to, body, time.Now()); err != nil {
		return 0, nil, err
	}
	resp, err := n.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("gossip: read response: %w", err)
	}
	if int64(len(data)) > limit {
		return resp.StatusCode, nil, fmt.Errorf("gossip: response larger than %d bytes", limit)
	}
	return resp.StatusCode, data, nil
}

// HTTPError is a payload path response with an unexpected status.
type HTTPError struct {
	Status int
	Body   string
}

func (e *HTTPError) Error() string {
	return "gossip: member answered " + strconv.Itoa(e.Status) + ": " + e.Body
}

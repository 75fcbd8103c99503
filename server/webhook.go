package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// webhook is the built-in listener that POSTs socket events to a backend
// as JSON batches: {"events":[...]}. Events are queued without blocking
// the socket; a full queue drops the event (counted and logged), a failed
// POST is retried with exponential backoff, and a batch that exhausts its
// retries is counted as failed. One sender keeps events in order.
type webhook struct {
	cfg     WebhookConfig
	node    string
	log     *slog.Logger
	m       *metrics
	want    map[string]bool
	queue   chan webhookEvent
	client  *http.Client
	stopCh  chan struct{}
	done    chan struct{}
	dropLog *logLimiter
}

// webhookEvent is one event as the backend receives it.
type webhookEvent struct {
	Type          string  `json:"type"` // connect, message, close
	Time          string  `json:"time"`
	Node          string  `json:"node"`
	Socket        string  `json:"socket"`
	Session       string  `json:"session"`
	User          string  `json:"user"`
	Context       string  `json:"context"`
	Path          string  `json:"path"`
	Message       *string `json:"message,omitempty"`
	MessageBase64 *string `json:"message_base64,omitempty"`
	Code          uint16  `json:"code,omitempty"`
	Reason        string  `json:"reason,omitempty"`
}

func newWebhook(cfg WebhookConfig, node string, log *slog.Logger, m *metrics) *webhook {
	w := &webhook{
		cfg:     cfg,
		node:    node,
		log:     log.With("component", "webhook"),
		m:       m,
		want:    map[string]bool{},
		queue:   make(chan webhookEvent, cfg.QueueSize),
		client:  &http.Client{Timeout: cfg.Timeout},
		stopCh:  make(chan struct{}),
		done:    make(chan struct{}),
		dropLog: newLogLimiter(1),
	}
	for _, e := range cfg.Events {
		w.want[e] = true
	}
	return w
}

func (w *webhook) event(typ string, s *Socket) webhookEvent {
	return webhookEvent{
		Type: typ, Time: time.Now().UTC().Format(time.RFC3339Nano), Node: w.node,
		Socket: s.id, Session: s.sess.id, User: s.sess.user, Context: s.sess.context, Path: s.path,
	}
}

func (w *webhook) enqueue(ev webhookEvent) {
	select {
	case w.queue <- ev:
		w.m.webhook.WithLabelValues("queued").Inc()
	default:
		w.m.webhook.WithLabelValues("dropped").Inc()
		if w.dropLog.allow() {
			w.log.Warn("webhook queue full: event dropped", "type", ev.Type, "socket", ev.Socket,
				"queue_size", w.cfg.QueueSize, "also_dropped_since_last", w.dropLog.takeSuppressed())
		}
	}
}

// OnConnect implements Listener.
func (w *webhook) OnConnect(s *Socket) {
	if w.want["connect"] {
		w.enqueue(w.event("connect", s))
	}
}

// OnMessage implements Listener.
func (w *webhook) OnMessage(s *Socket, m Message) {
	if !w.want["message"] {
		return
	}
	ev := w.event("message", s)
	if m.Type == TextMessage {
		t := string(m.Data)
		ev.Message = &t
	} else {
		b := base64.StdEncoding.EncodeToString(m.Data)
		ev.MessageBase64 = &b
	}
	w.enqueue(ev)
}

// OnClose implements Listener.
func (w *webhook) OnClose(s *Socket, code uint16, reason string) {
	if w.want["close"] {
		ev := w.event("close", s)
		ev.Code, ev.Reason = code, reason
		w.enqueue(ev)
	}
}

func (w *webhook) start() { go w.run() }

// stop lets the sender flush what is queued for at most grace.
func (w *webhook) stop(grace time.Duration) {
	close(w.stopCh)
	select {
	case <-w.done:
	case <-time.After(grace + time.Second):
		w.log.Warn("webhook did not flush in time", "queued", len(w.queue))
	}
}

func (w *webhook) run() {
	defer close(w.done)
	batch := make([]webhookEvent, 0, w.cfg.BatchSize)
	for {
		select {
		case ev := <-w.queue:
			batch = append(batch[:0], ev)
		case <-w.stopCh:
			w.flushRemaining(batch[:0])
			return
		}
		deadline := time.NewTimer(w.cfg.BatchInterval)
	fill:
		for len(batch) < w.cfg.BatchSize {
			select {
			case ev := <-w.queue:
				batch = append(batch, ev)
			case <-deadline.C:
				break fill
			case <-w.stopCh:
				break fill
			}
		}
		deadline.Stop()
		w.deliver(batch, false)
	}
}

func (w *webhook) flushRemaining(batch []webhookEvent) {
	for {
		select {
		case ev := <-w.queue:
			batch = append(batch, ev)
			if len(batch) == w.cfg.BatchSize {
				w.deliver(batch, true)
				batch = batch[:0]
			}
		default:
			if len(batch) > 0 {
				w.deliver(batch, true)
			}
			return
		}
	}
}

// deliver POSTs one batch with retries (fewer when stopping).
func (w *webhook) deliver(batch []webhookEvent, stopping bool) {
	body, err := json.Marshal(struct {
		Events []webhookEvent `json:"events"`
	}{batch})
	if err != nil {
		w.m.webhook.WithLabelValues("failed").Add(float64(len(batch)))
		return
	}
	retries := w.cfg.MaxRetries
	if stopping {
		retries = min(retries, 1)
	}
	backoff := 100 * time.Millisecond
	for attempt := 0; ; attempt++ {
		err = w.post(body)
		if err == nil {
			w.m.webhook.WithLabelValues("delivered").Add(float64(len(batch)))
			return
		}
		if attempt >= retries {
			break
		}
		select {
		case <-time.After(backoff):
		case <-w.stopCh:
			if !stopping {
				stopping, retries = true, min(retries, attempt+1)
			}
		}
		backoff = min(backoff*2, 5*time.Second)
	}
	w.m.webhook.WithLabelValues("failed").Add(float64(len(batch)))
	w.log.Warn("webhook batch failed after retries", "events", len(batch), "error", err)
}

func (w *webhook) post(body []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), w.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range w.cfg.Headers {
		req.Header.Set(k, v)
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook answered %d", resp.StatusCode)
	}
	return nil
}

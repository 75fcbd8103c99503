package gossip

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/edgews/edgews/gossip/internal/wire"
)

// Send queues m for every other live member and returns for how many. It
// never waits for the network: each member's queue sends in the background
// (see QueueSettings). Messages sent by one goroutine reach each member in
// the order of the calls, once. Members declared failed less than
// Config.FailedQueueGrace ago still get the message queued (and counted),
// in case they come back.
//
// m.Data is copied; the caller may reuse it. A payload above
// Config.MaxMessageSize, or a context, user or path above MaxFieldSize,
// fails with ErrMessageTooLarge. If a member's queue is full the message is
// dropped for that member, counted and logged, and Send returns the count
// of the others together with an error wrapping ErrQueueFull.
func (n *Node) Send(ctx context.Context, m Message) (int, error) {
	if err := n.usable(); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if len(m.Data) > n.cfg.MaxMessageSize {
		return 0, fmt.Errorf("%w: %d bytes (max %d)", ErrMessageTooLarge, len(m.Data), n.cfg.MaxMessageSize)
	}
	if len(m.Context) > MaxFieldSize || len(m.User) > MaxFieldSize || len(m.Path) > MaxFieldSize {
		return 0, fmt.Errorf("%w: context, user or path longer than %d bytes", ErrMessageTooLarge, MaxFieldSize)
	}
	om := &outMsg{msg: wire.Msg{
		Context: m.Context,
		User:    m.User,
		Path:    m.Path,
		Binary:  m.Binary,
		Data:    bytes.Clone(m.Data),
	}}
	om.size = wire.MsgSize(&om.msg)

	settings := n.queue.Load()
	now := time.Now()
	queued, full := 0, 0
	n.mu.RLock()
	for _, p := range n.peers {
		switch p.enqueue(om, now, settings) {
		case enqueued:
			queued++
		case queueFull:
			full++
			n.warnLimited("overflow:"+p.name, "gossip: remote queue full, message dropped for member",
				slog.String("member", p.name), slog.Int("max_messages", settings.MaxMessages), slog.Int64("max_bytes", settings.MaxBytes))
		}
	}
	n.mu.RUnlock()
	n.m.messagesQueued.Add(uint64(queued))
	if full > 0 {
		n.m.dropsOverflow.Add(uint64(full))
		return queued, fmt.Errorf("%w: dropped for %d of %d members", ErrQueueFull, full, queued+full)
	}
	return queued, nil
}

// QueueSettings returns the remote queue settings in effect.
func (n *Node) QueueSettings() QueueSettings { return *n.queue.Load() }

// SetQueueSettings replaces the remote queue settings at runtime. Queued
// messages are judged by the new settings from the next check on; lowering
// the bounds drops nothing already queued.
func (n *Node) SetQueueSettings(s QueueSettings) error {
	if err := s.validate(); err != nil {
		return err
	}
	n.queue.Store(&s)
	for _, p := range n.peerList() {
		p.wake()
	}
	n.log.Info("gossip: remote queue settings changed",
		slog.Duration("delay", s.Delay), slog.Duration("max_delay", s.MaxDelay), slog.Duration("timer_frequency", s.TimerFrequency),
		slog.Int("max_messages", s.MaxMessages), slog.Int64("max_bytes", s.MaxBytes))
	return nil
}

package gossip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"time"

	"github.com/edgews/edgews/gossip/internal/wire"
	"github.com/hashicorp/serf/serf"
)

// existsQuery is the serf query name of the exists query.
const existsQuery = "edgews-exists-v1"

// MaxExistsQuerySize bounds an exists query: context, user and path filter
// (each at most MaxFieldSize) plus a few bytes of framing must fit, so that
// the query fits into one gossip packet. A 1 KiB path filter fits with a
// context and user of up to about 60 bytes together.
const MaxExistsQuerySize = wire.MaxQueryPayload

// serfQuerySizeLimit is the largest encoded serf query gossip lets serf send
// (serf's QuerySizeLimit): what memberlist can carry in one encrypted gossip
// packet, UDPBufferSize (1400) less the compound header (2), the encryption
// overhead (29) and the per-message overhead (2). A larger query would be
// queued by serf but never leave the node.
//
// serf's framing around the payload takes at most 150 bytes plus the asking
// node's name (measured: 130 + name for an IPv4 address and a small Lamport
// time; an IPv6 address adds 12, Lamport times from 2³² on add 8). With
// MaxNodeName and MaxExistsQuerySize that is at most 1,314 bytes.
const serfQuerySizeLimit = 1400 - 2 - 29 - 2

// ExistsOptions vary one Exists call.
type ExistsOptions struct {
	// Timeout bounds the wait for answers; 0 means Config.ExistsTimeout.
	// A shorter deadline on the context wins.
	Timeout time.Duration
	// Count waits for every answer even after a positive one, so that
	// ExistsResult.Count is the cluster-wide number of matching sockets.
	Count bool
}

// ExistsResult is the cluster's answer to Exists, not counting this node.
type ExistsResult struct {
	// Found reports that at least one member has a matching socket.
	Found bool
	// Count sums the matching sockets of the members that answered.
	Count int
	// Expected is the number of live members asked; members that stop
	// being alive while the query runs are taken out again.
	Expected int
	// Answered counts the members that answered, Failed those of them
	// that answered with an error (or "overloaded").
	Answered int
	Failed   int
	// Complete reports that every expected member answered without an
	// error, so Found == false is a definite no and Count is exact.
	Complete bool
	// Pending names the expected members that had not answered when
	// Exists returned, sorted.
	Pending []string
}

// Exists asks every other live member whether it has a socket matching q.
// It returns as soon as one member answers yes (unless opts.Count), or
// once every live member has answered, or at the timeout, whichever comes
// first; it never waits for members that are not alive, and a member that
// fails while the query runs stops being waited for once it is declared
// failed. The question travels as a serf query; see the package
// documentation.
func (n *Node) Exists(ctx context.Context, q Query, opts ExistsOptions) (ExistsResult, error) {
	if err := n.usable(); err != nil {
		return ExistsResult{}, err
	}
	payload, err := wire.AppendExistsQuery(nil, wire.ExistsQuery{Context: q.Context, User: q.User, Path: q.Path})
	if err != nil {
		return ExistsResult{}, fmt.Errorf("%w: %w", ErrQueryTooLarge, err)
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = n.cfg.ExistsTimeout
	}
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	if timeout <= 0 {
		return ExistsResult{}, context.DeadlineExceeded
	}

	start := time.Now()
	n.m.existsQueries.Add(1)
	change := n.memberChange()
	expected := n.liveOthers()
	res := ExistsResult{Expected: len(expected)}
	if len(expected) == 0 {
		res.Complete = true
		n.m.existsLatency.observe(time.Since(start))
		return res, nil
	}

	// serf keys the responses of a running query by the Lamport time the
	// query was sent at, and only the local delivery of the query advances
	// that clock: two queries started at once can get the same time and
	// the first would lose its answers. Sending one query at a time keeps
	// the times distinct; the critical section does not touch the network.
	n.queryMu.Lock()
	resp, err := n.serf.Query(existsQuery, payload, &serf.QueryParam{Timeout: timeout})
	n.queryMu.Unlock()
	if err != nil {
		return res, fmt.Errorf("gossip: exists query: %w", err)
	}
	defer resp.Close()

	answered := make(map[string]bool, len(expected))
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	responses := resp.ResponseCh()

wait:
	for res.Answered < res.Expected {
		select {
		case r, ok := <-responses:
			if !ok {
				break wait // serf closed the query at its timeout
			}
			if answered[r.From] || r.From == n.cfg.NodeName {
				continue
			}
			answered[r.From] = true
			if !expected[r.From] {
				// A member that joined after the query started answered
				// anyway; count it.
				expected[r.From] = true
				res.Expected++
			}
			res.Answered++
			reply, err := wire.DecodeExistsReply(r.Payload)
			if err != nil || reply.Status != wire.StatusOK {
				res.Failed++
				if err != nil {
					n.warnLimited("exists-reply:"+r.From, "gossip: undecodable exists reply", slog.String("member", r.From), slog.Any("error", err))
				}
				continue
			}
			if reply.Count > 0 {
				res.Found = true
				res.Count += int(min(reply.Count, math.MaxInt32))
				if !opts.Count {
					break wait
				}
			}
		case <-change:
			change = n.memberChange()
			live := n.liveOthers()
			for name := range expected {
				if !answered[name] && !live[name] {
					delete(expected, name)
					res.Expected--
				}
			}
		case <-timer.C:
			break wait
		case <-ctx.Done():
			n.m.existsIncomplete.Add(1)
			return res, ctx.Err()
		case <-n.done:
			return res, ErrClosed
		}
	}

	res.Complete = res.Answered == res.Expected && res.Failed == 0
	for name := range expected {
		if !answered[name] {
			res.Pending = append(res.Pending, name)
		}
	}
	sort.Strings(res.Pending)
	n.m.existsLatency.observe(time.Since(start))
	switch {
	case res.Found:
		n.m.existsFound.Add(1)
	case !res.Complete:
		n.m.existsIncomplete.Add(1)
	}
	return res, nil
}

// answerQuery answers a serf query on a worker goroutine. It runs on the
// event loop and must not block: when all QueryWorkers are busy it answers
// "overloaded" at once.
func (n *Node) answerQuery(q *serf.Query) {
	if q.Name != existsQuery || q.SourceNode() == n.cfg.NodeName {
		return // the asking node counts its own sockets itself
	}
	select {
	case n.querySem <- struct{}{}:
	default:
		n.m.queriesOverloaded.Add(1)
		n.respond(q, wire.ExistsReply{Status: wire.StatusOverloaded})
		return
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		defer func() { <-n.querySem }()
		n.respond(q, n.countLocal(q))
	}()
}

func (n *Node) countLocal(q *serf.Query) wire.ExistsReply {
	eq, err := wire.DecodeExistsQuery(q.Payload)
	if err != nil {
		n.warnLimited("exists-query", "gossip: undecodable exists query", slog.String("from", q.SourceNode()), slog.Any("error", err))
		return wire.ExistsReply{Status: wire.StatusError}
	}
	ctx, cancel := context.WithDeadline(n.life, q.Deadline())
	defer cancel()
	count, err := n.local.Count(ctx, Query{Context: eq.Context, User: eq.User, Path: eq.Path})
	if err != nil || count < 0 {
		if err == nil {
			err = errors.New("negative count")
		}
		n.warnLimited("exists-count", "gossip: local count failed", slog.Any("error", err))
		return wire.ExistsReply{Status: wire.StatusError}
	}
	return wire.ExistsReply{Status: wire.StatusOK, Count: uint64(count)}
}

func (n *Node) respond(q *serf.Query, r wire.ExistsReply) {
	n.m.queriesAnswered.Add(1)
	if err := q.Respond(wire.AppendExistsReply(nil, r)); err != nil {
		n.warnLimited("exists-respond", "gossip: cannot answer exists query", slog.String("from", q.SourceNode()), slog.Any("error", err))
	}
}

package gossip

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
)

// MemberStats is one member's answer to Stats.
type MemberStats struct {
	Name  string
	Stats json.RawMessage // the member's Local.Stats, valid JSON; nil if Err is set
	Err   error
}

// Stats collects Local.Stats from every other live member over the payload
// path, in parallel, each bounded by Config.RPCTimeout. It returns one entry
// per member, sorted by name; members that failed carry an error instead
// of stats. The error result is only set if the node cannot ask at all.
func (n *Node) Stats(ctx context.Context) ([]MemberStats, error) {
	if err := n.usable(); err != nil {
		return nil, err
	}
	results := n.fanout(ctx, pathStats, nil, maxStatsResponse)
	out := make([]MemberStats, 0, len(results))
	for _, r := range results {
		ms := MemberStats{Name: r.name, Err: r.err}
		if r.err == nil {
			if json.Valid(r.body) {
				ms.Stats = json.RawMessage(r.body)
			} else {
				ms.Err = fmt.Errorf("gossip: member %s: stats are not valid JSON", r.name)
				n.m.rpcErrors.Add(1)
			}
		}
		out = append(out, ms)
	}
	return out, nil
}

// CloseSession closes the sockets of a session on every other live member
// and returns how many they closed in total. If some member did not answer,
// the count covers those that did and the error wraps ErrIncomplete with
// each member's failure.
func (n *Node) CloseSession(ctx context.Context, sessionID string) (int, error) {
	if err := n.usable(); err != nil {
		return 0, err
	}
	if len(sessionID) > maxSessionID {
		return 0, fmt.Errorf("gossip: session id longer than %d bytes", maxSessionID)
	}
	results := n.fanout(ctx, pathCloseSession, []byte(sessionID), maxSmallResponse)
	total := 0
	var errs []error
	for _, r := range results {
		if r.err != nil {
			errs = append(errs, fmt.Errorf("member %s: %w", r.name, r.err))
			continue
		}
		var reply closeSessionReply
		if err := json.Unmarshal(r.body, &reply); err != nil || reply.Closed < 0 {
			n.m.rpcErrors.Add(1)
			errs = append(errs, fmt.Errorf("member %s: bad close-session reply", r.name))
			continue
		}
		total += reply.Closed
	}
	if len(errs) > 0 {
		return total, fmt.Errorf("%w: %d of %d: %w", ErrIncomplete, len(errs), len(results), errors.Join(errs...))
	}
	return total, nil
}

type rpcResult struct {
	name string
	body []byte
	err  error
}

// fanout posts body to path on every live member at once and collects the
// answers, sorted by member name. Members declared failed are skipped.
func (n *Node) fanout(ctx context.Context, path string, body []byte, limit int64) []rpcResult {
	var peers []*peer
	for _, p := range n.peerList() {
		if !p.isFailed() {
			peers = append(peers, p)
		}
	}
	results := make([]rpcResult, len(peers))
	var wg sync.WaitGroup
	for i, p := range peers {
		wg.Go(func() {
			n.m.rpcCalls.Add(1)
			cctx, cancel := context.WithTimeout(ctx, n.cfg.RPCTimeout)
			defer cancel()
			status, data, err := n.post(cctx, p.name, *p.url.Load(), path, body, limit)
			if err == nil && status != http.StatusOK {
				err = &HTTPError{Status: status, Body: truncate(string(data), 200)}
			}
			if err != nil {
				n.m.rpcErrors.Add(1)
			}
			results[i] = rpcResult{name: p.name, body: data, err: err}
		})
	}
	wg.Wait()
	sort.Slice(results, func(i, j int) bool { return results[i].name < results[j].name })
	return results
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

package gossip

import (
	"log/slog"
	"maps"
	"net"
	"sort"
	"strconv"
	"time"

	"github.com/hashicorp/serf/serf"
)

// Status is a member's state as this node sees it.
type Status int

// Member states, as serf reports them.
const (
	StatusUnknown Status = iota
	StatusAlive
	StatusLeaving // announced a graceful leave, still reachable
	StatusLeft    // left gracefully
	StatusFailed  // stopped answering probes; reaped after Timing.ReconnectTimeout
)

func (s Status) String() string {
	switch s {
	case StatusAlive:
		return "alive"
	case StatusLeaving:
		return "leaving"
	case StatusLeft:
		return "left"
	case StatusFailed:
		return "failed"
	default:
		return "unknown"
	}
}

func statusOf(s serf.MemberStatus) Status {
	switch s {
	case serf.StatusAlive:
		return StatusAlive
	case serf.StatusLeaving:
		return StatusLeaving
	case serf.StatusLeft:
		return StatusLeft
	case serf.StatusFailed:
		return StatusFailed
	default:
		return StatusUnknown
	}
}

// Member describes one cluster member.
type Member struct {
	Name         string
	Addr         string // gossip address, host:port
	InternalAddr string // payload path address, host:port ("" if not an edgews node)
	Version      string // edgews version from the member's tags
	Status       Status
	Self         bool
	// Tags are all of the member's tags, gossip's own ("ew_" prefix)
	// included.
	Tags map[string]string
}

// Members lists the members this node knows, itself included, sorted by
// name. Failed members stay listed until reaped, members that left until
// their tombstone expires (see Timing).
func (n *Node) Members() []Member {
	n.mu.RLock()
	s := n.serf
	n.mu.RUnlock()
	if s == nil {
		return nil
	}
	ms := s.Members()
	out := make([]Member, 0, len(ms))
	for _, m := range ms {
		out = append(out, Member{
			Name:         m.Name,
			Addr:         net.JoinHostPort(m.Addr.String(), strconv.Itoa(int(m.Port))),
			InternalAddr: m.Tags[tagInternal],
			Version:      m.Tags[tagVersion],
			Status:       statusOf(m.Status),
			Self:         m.Name == n.cfg.NodeName,
			Tags:         maps.Clone(m.Tags),
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// eventLoop consumes serf's events. serf blocks while delivering them (for
// queries, with its query lock held), so nothing here may wait: membership
// changes only update maps and start or stop goroutines, and queries are
// answered on worker goroutines.
func (n *Node) eventLoop() {
	defer n.wg.Done()
	for {
		select {
		case e := <-n.events:
			switch ev := e.(type) {
			case serf.MemberEvent:
				n.memberEvent(ev)
			case *serf.Query:
				n.answerQuery(ev)
			}
		case <-n.done:
			return
		}
	}
}

func (n *Node) memberEvent(ev serf.MemberEvent) {
	for _, m := range ev.Members {
		if m.Name == n.cfg.NodeName {
			continue
		}
		switch ev.Type {
		case serf.EventMemberJoin:
			n.m.memberJoins.Add(1)
		case serf.EventMemberFailed:
			n.m.memberFailures.Add(1)
		case serf.EventMemberLeave:
			n.m.memberLeaves.Add(1)
		case serf.EventMemberReap:
			n.forgetInbound(m.Name)
		}
		n.syncPeer(m)
		n.log.Info("gossip: member "+memberVerb(ev.Type),
			slog.String("member", m.Name), slog.String("status", statusOf(m.Status).String()))
	}
	n.notifyChange()
}

func memberVerb(t serf.EventType) string {
	switch t {
	case serf.EventMemberJoin:
		return "joined"
	case serf.EventMemberLeave:
		return "left"
	case serf.EventMemberFailed:
		return "failed"
	case serf.EventMemberUpdate:
		return "updated"
	case serf.EventMemberReap:
		return "reaped"
	default:
		return "changed"
	}
}

// syncPeer makes the destination queue for m match m's state: a live edgews
// member has exactly one queue, bound to its current incarnation (boot id).
// A member declared failed keeps its queue for Config.FailedQueueGrace, so a
// member that was only unreachable (a false suspicion on a starved machine,
// a short partition) resumes its stream without losing anything; after the
// grace, or when it left or restarted, the queue is dropped.
func (n *Node) syncPeer(m serf.Member) {
	live := m.Status == serf.StatusAlive || m.Status == serf.StatusLeaving
	boot, addr, ok := edgewsTags(m.Tags)
	scheme := m.Tags[tagScheme]
	if scheme == "" {
		scheme = "http"
	}

	n.mu.Lock()
	if n.state == stateClosed {
		n.mu.Unlock()
		return
	}
	old := n.peers[m.Name]
	switch {
	case live && ok && old != nil && old.boot == boot:
		old.setURL(scheme + "://" + addr)
		old.setFailed(false)
		n.mu.Unlock()
		return
	case m.Status == serf.StatusFailed && old != nil && old.boot == boot && n.cfg.FailedQueueGrace > 0:
		if old.setFailed(true) {
			old.grace = time.AfterFunc(n.cfg.FailedQueueGrace, func() { n.dropFailedPeer(old) })
		}
		n.mu.Unlock()
		return
	}
	if old != nil {
		delete(n.peers, m.Name)
	}
	var p *peer
	if live && ok {
		p = n.newPeer(m.Name, boot, scheme+"://"+addr)
		n.peers[m.Name] = p
	}
	n.mu.Unlock()

	if old != nil {
		old.close(dropNodeGone)
	}
	if p != nil {
		n.wg.Add(1)
		go p.run()
	}
	if live && !ok {
		n.warnLimited("tags:"+m.Name, "gossip: member is not an edgews node of a known protocol; ignoring it",
			slog.String("member", m.Name), slog.String("proto", m.Tags[tagProto]))
	}
}

// edgewsTags extracts what a peer needs from a member's tags.
func edgewsTags(tags map[string]string) (boot uint64, addr string, ok bool) {
	if tags[tagProto] != protoVersion {
		return 0, "", false
	}
	boot, err := strconv.ParseUint(tags[tagBoot], 16, 64)
	if err != nil {
		return 0, "", false
	}
	addr = tags[tagInternal]
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return 0, "", false
	}
	return boot, addr, true
}

// memberChange returns a channel closed at the next membership change.
func (n *Node) memberChange() <-chan struct{} {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.changeCh
}

func (n *Node) notifyChange() {
	n.mu.Lock()
	close(n.changeCh)
	n.changeCh = make(chan struct{})
	n.mu.Unlock()
}

// liveOthers returns the names of the other members that are alive and run
// a compatible edgews.
func (n *Node) liveOthers() map[string]bool {
	n.mu.RLock()
	s := n.serf
	n.mu.RUnlock()
	out := make(map[string]bool)
	if s == nil {
		return out
	}
	for _, m := range s.Members() {
		if m.Name == n.cfg.NodeName || m.Status != serf.StatusAlive {
			continue
		}
		if _, _, ok := edgewsTags(m.Tags); ok {
			out[m.Name] = true
		}
	}
	return out
}

// peerList returns a snapshot of the destination queues.
func (n *Node) peerList() []*peer {
	n.mu.RLock()
	defer n.mu.RUnlock()
	out := make([]*peer, 0, len(n.peers))
	for _, p := range n.peers {
		out = append(out, p)
	}
	return out
}

// dropFailedPeer drops p at the end of its failure grace unless its member
// came back meanwhile.
func (n *Node) dropFailedPeer(p *peer) {
	n.mu.Lock()
	drop := n.peers[p.name] == p && p.isFailed()
	if drop {
		delete(n.peers, p.name)
	}
	n.mu.Unlock()
	if drop {
		p.close(dropNodeGone)
	}
}

// removePeer forgets p if it is still the queue for its member. The next
// membership event for the member creates a new one.
func (n *Node) removePeer(p *peer) {
	n.mu.Lock()
	if n.peers[p.name] == p {
		delete(n.peers, p.name)
	}
	n.mu.Unlock()
}

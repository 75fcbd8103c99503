package server

import "context"

// Stats is a snapshot of a node's (or, summed, a cluster's) counters.
type Stats struct {
	Node             string                `json:"node,omitempty"`
	Nodes            int                   `json:"nodes"`
	Sockets          int64                 `json:"sockets"`
	Sessions         int                   `json:"sessions"`
	Users            int                   `json:"users"`
	MessagesIn       uint64                `json:"messages_in"`
	MessagesOut      uint64                `json:"messages_out"`
	BytesIn          uint64                `json:"bytes_in"`
	BytesOut         uint64                `json:"bytes_out"`
	DroppedOut       uint64                `json:"dropped_out"`
	DroppedIn        uint64                `json:"dropped_in"`
	Routes           map[string]RouteStats `json:"routes"`
	Closed           map[string]uint64     `json:"closed"`
	RejectedUpgrades map[string]uint64     `json:"rejected_upgrades"`
}

// RouteStats are one route's counters.
type RouteStats struct {
	Sockets     int64             `json:"sockets"`
	Opened      uint64            `json:"opened"`
	MessagesIn  uint64            `json:"messages_in"`
	MessagesOut uint64            `json:"messages_out"`
	BytesIn     uint64            `json:"bytes_in"`
	BytesOut    uint64            `json:"bytes_out"`
	DroppedOut  uint64            `json:"dropped_out"`
	DroppedIn   uint64            `json:"dropped_in"`
	Closed      map[string]uint64 `json:"closed"`
}

// LocalStats returns this node's counters.
func (s *Server) LocalStats() Stats {
	st := Stats{
		Node:             s.nodeName,
		Nodes:            1,
		Sockets:          s.reg.total.Load(),
		Routes:           map[string]RouteStats{},
		Closed:           map[string]uint64{},
		RejectedUpgrades: map[string]uint64{},
	}
	st.Sessions, st.Users = s.reg.counts()
	for _, rs := range s.book.allRoutes() {
		r := RouteStats{
			Sockets:     rs.sockets.Load(),
			Opened:      rs.opened.Load(),
			MessagesIn:  rs.conn.MessagesIn.Load(),
			MessagesOut: rs.conn.MessagesOut.Load(),
			BytesIn:     rs.conn.BytesIn.Load(),
			BytesOut:    rs.conn.BytesOut.Load(),
			DroppedOut:  rs.conn.DroppedOut.Load(),
			DroppedIn:   rs.conn.DroppedIn.Load(),
			Closed:      map[string]uint64{},
		}
		for cause, c := range rs.closed {
			if v := c.Load(); v > 0 {
				r.Closed[cause] = v
				st.Closed[cause] += v
			}
		}
		st.Routes[rs.path] = r
		st.MessagesIn += r.MessagesIn
		st.MessagesOut += r.MessagesOut
		st.BytesIn += r.BytesIn
		st.BytesOut += r.BytesOut
		st.DroppedOut += r.DroppedOut
		st.DroppedIn += r.DroppedIn
	}
	for reason, c := range s.book.rejected {
		if v := c.Load(); v > 0 {
			st.RejectedUpgrades[reason] = v
		}
	}
	return st
}

// Stats returns the node's stats (the cluster's, summed, on clustered
// nodes unless local).
func (s *Server) Stats(ctx context.Context, local bool) (Stats, error) {
	if s.cluster == nil || local {
		return s.LocalStats(), nil
	}
	return s.statsCluster(ctx)
}

// Add sums o into st (cluster totals).
func (st *Stats) Add(o Stats) {
	st.Nodes += o.Nodes
	st.Sockets += o.Sockets
	st.Sessions += o.Sessions
	st.Users += o.Users
	st.MessagesIn += o.MessagesIn
	st.MessagesOut += o.MessagesOut
	st.BytesIn += o.BytesIn
	st.BytesOut += o.BytesOut
	st.DroppedOut += o.DroppedOut
	st.DroppedIn += o.DroppedIn
	if st.Routes == nil {
		st.Routes = map[string]RouteStats{}
	}
	for p, r := range o.Routes {
		cur := st.Routes[p]
		cur.Sockets += r.Sockets
		cur.Opened += r.Opened
		cur.MessagesIn += r.MessagesIn
		cur.MessagesOut += r.MessagesOut
		cur.BytesIn += r.BytesIn
		cur.BytesOut += r.BytesOut
		cur.DroppedOut += r.DroppedOut
		cur.DroppedIn += r.DroppedIn
		cur.Closed = addCounts(cur.Closed, r.Closed)
		st.Routes[p] = cur
	}
	st.Closed = addCounts(st.Closed, o.Closed)
	st.RejectedUpgrades = addCounts(st.RejectedUpgrades, o.RejectedUpgrades)
}

func addCounts(dst, src map[string]uint64) map[string]uint64 {
	if dst == nil {
		dst = map[string]uint64{}
	}
	for k, v := range src {
		dst[k] += v
	}
	return dst
}

package server

import (
	"slices"

	"github.com/edgews/edgews/server/internal/wsconn"
	"github.com/edgews/edgews/server/internal/wsproto"
	"github.com/edgews/edgews/server/pathfilter"
)

// route is a compiled RouteConfig. Routes are immutable; a reload builds a
// new table and sockets keep the route they were opened on.
type route struct {
	cfg          RouteConfig
	filter       pathfilter.Filter
	origins      *originPolicy
	subprotocols []string
	deflate      *wsproto.DeflatePolicy // nil: no compression
	conn         *wsconn.Config
	stats        *routeStats
	echo         bool
	transcoder   transcoder // nil: messages pass unchanged
}

// routeTable matches request paths to routes, most specific first.
type routeTable struct {
	routes []*route
}

func (t *routeTable) match(path []byte) *route {
	for _, r := range t.routes {
		if r.filter.MatchBytes(path) {
			return r
		}
	}
	return nil
}

func (t *routeTable) byPath(path string) *route {
	for _, r := range t.routes {
		if r.cfg.Path == path {
			return r
		}
	}
	return nil
}

// buildRoutes compiles a validated config's routes.
func buildRoutes(cfg *Config, book *statsBook, partial *wsproto.Budget) *routeTable {
	t := &routeTable{}
	for _, rc := range cfg.Routes {
		f := pathfilter.MustParse(rc.Path)
		origins := cfg.Origins
		if len(rc.Origins) > 0 {
			origins = rc.Origins
		}
		maxMsg := rc.MaxMessageSize
		if maxMsg == 0 {
			maxMsg = cfg.Limits.MaxMessageSize
		}
		stats := book.route(f.String())
		onFull := wsconn.CloseSlow
		if cfg.Limits.OnQueueFull == "drop_oldest" {
			onFull = wsconn.DropOldest
		}
		r := &route{
			cfg:          rc,
			filter:       f,
			origins:      newOriginPolicy(origins),
			subprotocols: slices.Clone(rc.Subprotocols),
			stats:        stats,
			echo:         rc.Echo,
			conn: &wsconn.Config{
				Parser: wsproto.ParserConfig{
					MaxMessage:   int64(maxMsg),
					MaxFragments: cfg.Limits.MaxFragments,
					Budget:       partial,
				},
				MaxQueueMessages: cfg.Limits.QueueMessages,
				MaxQueueBytes:    int(cfg.Limits.QueueBytes),
				OnFull:           onFull,
				FullCloseCode:    wsproto.ClosePolicyViolation,
				WriteTimeout:     cfg.Limits.WriteTimeout,
				CloseTimeout:     cfg.Limits.CloseTimeout,
				PingInterval:     cfg.Limits.PingInterval,
				PongTimeout:      cfg.Limits.PongTimeout,
				ReadTimeout:      cfg.Limits.ReadTimeout,
				CompressMin:      int(rc.Compression.MinSize),
				MaxControlRate:   cfg.Limits.MaxControlFrames,
				Stats:            &stats.conn,
			},
		}
		if rc.Compression.Enabled {
			level := rc.Compression.Level
			if level == 0 {
				level = 1
			}
			r.deflate = &wsproto.DeflatePolicy{
				ServerContextTakeover: rc.Compression.ServerContextTakeover,
				ClientContextTakeover: rc.Compression.ClientContextTakeover,
				Level:                 level,
			}
		}
		t.routes = append(t.routes, r)
	}
	slices.SortStableFunc(t.routes, func(a, b *route) int {
		return b.filter.Specificity() - a.filter.Specificity()
	})
	return t
}

// negotiateSubprotocol picks the route's most preferred subprotocol that
// the client offered.
func (r *route) negotiateSubprotocol(offered []string) string {
	for _, p := range r.subprotocols {
		if slices.Contains(offered, p) {
			return p
		}
	}
	return ""
}

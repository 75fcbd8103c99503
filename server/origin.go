package server

import (
	"net"
	"net/url"
	"strings"
)

// originPolicy decides which Origin header values may open a socket.
// Browsers always send Origin on WebSocket upgrades; a request without one
// is not from a browser, cannot be a cross-site hijack, and is allowed.
type originPolicy struct {
	any       bool
	allowNull bool
	sameHost  bool            // no list configured: only the request's own host
	exact     map[string]bool // scheme://host:port, normalized
	wildcards []originWildcard
}

type originWildcard struct {
	scheme, suffix, port string // suffix like ".example.com"
}

func newOriginPolicy(list []string) *originPolicy {
	p := &originPolicy{exact: map[string]bool{}}
	if len(list) == 0 {
		p.sameHost = true
		return p
	}
	for _, o := range list {
		switch o {
		case "*":
			p.any = true
			continue
		case "null":
			p.allowNull = true
			continue
		}
		scheme, host, port, ok := splitOrigin(o)
		if !ok {
			continue // Validate refused it already
		}
		if rest, found := strings.CutPrefix(host, "*."); found {
			p.wildcards = append(p.wildcards, originWildcard{scheme, "." + rest, port})
			continue
		}
		p.exact[scheme+"://"+net.JoinHostPort(host, port)] = true
	}
	return p
}

// splitOrigin normalizes an origin to lower-case scheme and host and an
// explicit port.
func splitOrigin(o string) (scheme, host, port string, ok bool) {
	u, err := url.Parse(o)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", "", "", false
	}
	scheme = strings.ToLower(u.Scheme)
	host = strings.ToLower(u.Hostname())
	port = u.Port()
	if port == "" {
		port = defaultPort(scheme)
	}
	return scheme, host, port, true
}

func defaultPort(scheme string) string {
	switch scheme {
	case "https", "wss":
		return "443"
	default:
		return "80"
	}
}

// allow reports whether origin may connect to a server reached as host
// (the Host header).
func (p *originPolicy) allow(origin, host string) bool {
	if origin == "" || p.any {
		return true
	}
	if origin == "null" {
		return p.allowNull
	}
	scheme, oh, op, ok := splitOrigin(origin)
	if !ok {
		return false
	}
	if p.sameHost {
		hh, hp, err := net.SplitHostPort(host)
		if err != nil {
			hh, hp = host, ""
		}
		hh = strings.Trim(strings.ToLower(hh), "[]")
		if hp == "" {
			hp = defaultPort(scheme)
		}
		return hh == strings.Trim(oh, "[]") && hp == op
	}
	if p.exact[scheme+"://"+net.JoinHostPort(oh, op)] {
		return true
	}
	for _, w := range p.wildcards {
		if w.scheme == scheme && w.port == op && strings.HasSuffix(oh, w.suffix) && len(oh) > len(w.suffix) {
			return true
		}
	}
	return false
}

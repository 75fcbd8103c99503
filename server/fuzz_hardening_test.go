package server

import (
	"net"
	"net/url"
	"strings"
	"testing"
)

// FuzzOriginAllow feeds the Origin check (untrusted Origin and Host
// headers) and checks that whatever it allows really is allowed: the
// request's own host under the default policy, a listed origin or a
// subdomain of a wildcard otherwise. Seeds are in testdata/fuzz.
func FuzzOriginAllow(f *testing.F) {
	for _, seed := range [][2]string{
		{"http://127.0.0.1:8080", "127.0.0.1:8080"},
		{"https://partner.example", "edge.example"},
		{"https://PARTNER.example:443", "edge.example"},
		{"https://a.trusted.example:8443", "edge.example"},
		{"https://trusted.example:8443", "edge.example"},
		{"https://evil.example", "evil.example"},
		{"http://[::1]:80", "[::1]"},
		{"null", "x"},
		{"https://partner.example@evil.example", "edge.example"},
		{"https://evil.example#.trusted.example", "edge.example"},
		{"https://xtrusted.example:8443", "edge.example"},
		{"https://%70artner.example", "edge.example"},
		{"http://a b", "a b"},
	} {
		f.Add(seed[0], seed[1])
	}
	same := newOriginPolicy(nil)
	listed := newOriginPolicy([]string{"https://partner.example", "https://*.trusted.example:8443"})
	hostOfOrigin := func(o string) (scheme, host, port string, ok bool) {
		u, err := url.Parse(o)
		if err != nil || u.Host == "" || u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" {
			return "", "", "", false
		}
		return strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port(), true
	}
	f.Fuzz(func(t *testing.T, origin, host string) {
		if same.allow(origin, host) && origin != "" {
			_, oh, _, _ := splitOrigin(origin)
			hh, _, err := net.SplitHostPort(host)
			if err != nil {
				hh = host
			}
			if origin == "null" || strings.Trim(oh, "[]") != strings.Trim(strings.ToLower(hh), "[]") {
				t.Fatalf("same-host policy allowed origin %q for host %q", origin, host)
			}
		}
		if !listed.allow(origin, host) || origin == "" {
			return
		}
		scheme, oh, port, ok := hostOfOrigin(origin)
		switch {
		case !ok:
			// Browsers send only scheme://host[:port]; anything else that
			// passes must still name an allowed host.
			_, oh2, port2, ok2 := splitOrigin(origin)
			if !ok2 || !(oh2 == "partner.example" && port2 == "443" || strings.HasSuffix(oh2, ".trusted.example") && port2 == "8443") {
				t.Fatalf("listed policy allowed %q", origin)
			}
		case scheme != "https":
			t.Fatalf("listed policy allowed scheme %q in %q", scheme, origin)
		case oh == "partner.example" && (port == "" || port == "443"):
		case strings.HasSuffix(oh, ".trusted.example") && len(oh) > len(".trusted.example") && port == "8443":
		default:
			t.Fatalf("listed policy allowed %q (host %q port %q)", origin, oh, port)
		}
	})
}

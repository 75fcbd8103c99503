package autobahn

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestParseWSURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want wsURL
		ok   bool
	}{
		{"ws://127.0.0.1:9001/echo", wsURL{host: "127.0.0.1", port: 9001, resource: "/echo"}, true},
		{"ws://example.com", wsURL{host: "example.com", port: 80, resource: "/"}, true},
		{"wss://example.com/a%20b?x=1&y=2", wsURL{secure: true, host: "example.com", port: 443, resource: "/a%20b?x=1&y=2"}, true},
		{"ws://[::1]:8080/", wsURL{host: "::1", port: 8080, resource: "/"}, true},
		{"http://example.com/", wsURL{}, false},
		{"ws:///nohost", wsURL{}, false},
		{"ws://h/#frag", wsURL{}, false},
		{"ws://h:99999/", wsURL{}, false},
	} {
		got, err := parseWSURL(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("%q: err = %v", tc.in, err)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrBadURL) {
				t.Errorf("%q: err = %v, want ErrBadURL", tc.in, err)
			}
			continue
		}
		if *got != tc.want {
			t.Errorf("%q: got %+v, want %+v", tc.in, *got, tc.want)
		}
	}
}

func TestHandshakeRequest(t *testing.T) {
	t.Parallel()
	r, peer := pipeRun(t)
	drain(peer)
	r.state = stateConnecting
	r.cfg.header = http.Header{"Origin": {"http://example.com"}, "Cookie": {"a=b"}}
	r.offers = []deflateOffer{defaultOffer(), {}}
	r.startHandshake()
	req := r.httpRequest
	for _, want := range []string{
		"GET / HTTP/1.1\r\n", "Host: 127.0.0.1:1\r\n", "Upgrade: WebSocket\r\n", "Connection: Upgrade\r\n",
		"Origin: http://example.com\r\n", "Cookie: a=b\r\n", "Sec-WebSocket-Version: 13\r\n",
		"Sec-WebSocket-Key: " + r.key + "\r\n",
		"Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; client_max_window_bits, permessage-deflate\r\n",
	} {
		if !strings.Contains(req, want) {
			t.Errorf("request lacks %q:\n%s", want, req)
		}
	}
	if !strings.HasSuffix(req, "\r\n\r\n") {
		t.Errorf("request does not end with an empty line")
	}
}

func response(key string, extra ...string) string {
	return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Accept: " +
		acceptKey(key) + "\r\n" + strings.Join(extra, "") + "\r\n"
}

func TestCheckHandshake(t *testing.T) {
	t.Parallel()
	const key = "dGhlIHNhbXBsZSBub25jZQ=="
	if got := acceptKey(key); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("acceptKey = %q (RFC 6455 example)", got)
	}
	for _, tc := range []struct {
		name    string
		resp    string
		deflate bool
		ok      bool
		pmce    bool
	}{
		{"plain", response(key), false, true, false},
		{"deflate", response(key, "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n"), true, true, true},
		{"deflate not offered", response(key, "Sec-WebSocket-Extensions: permessage-deflate\r\n"), false, false, false},
		{"unknown extension", response(key, "Sec-WebSocket-Extensions: x-foo\r\n"), true, false, false},
		{"deflate twice", response(key, "Sec-WebSocket-Extensions: permessage-deflate, permessage-deflate\r\n"), true, false, false},
		{"bad deflate parameter", response(key, "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"), true, false, false},
		{"subprotocol", response(key, "Sec-WebSocket-Protocol: chat\r\n"), false, false, false},
		{"wrong accept", strings.Replace(response(key), acceptKey(key), acceptKey("other"), 1), false, false, false},
		{"status 403", "HTTP/1.1 403 Forbidden\r\n\r\n", false, false, false},
		{"HTTP/1.0", strings.Replace(response(key), "HTTP/1.1", "HTTP/1.0", 1), false, false, false},
		{"no upgrade", strings.Replace(response(key), "Upgrade: websocket\r\n", "", 1), false, false, false},
		{"connection without upgrade", strings.Replace(response(key), "keep-alive, Upgrade", "keep-alive", 1), false, false, false},
		{"repeated accept", response(key, "Sec-WebSocket-Accept: x\r\n"), false, false, false},
	} {
		r := &run{key: key, acceptDeflate: tc.deflate}
		pmce, err := r.checkHandshake(parseHTTPHead([]byte(tc.resp)))
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v, want ok %v", tc.name, err, tc.ok)
			continue
		}
		if err != nil && !errors.Is(err, errHandshake) {
			t.Errorf("%s: err = %v, want errHandshake", tc.name, err)
		}
		if (pmce != nil) != tc.pmce {
			t.Errorf("%s: pmce = %v", tc.name, pmce)
		}
	}
}

// TestProcessHandshake checks that data following the response head is
// processed as frames right away.
func TestProcessHandshake(t *testing.T) {
	t.Parallel()
	r, peer := pipeRun(t)
	drain(peer)
	opened := false
	r.spec = &caseSpec{id: "0.0", open: func(*run) { opened = true }}
	r.state = stateConnecting
	r.startHandshake()
	resp := response(r.key, "Server: test/1\r\n")
	r.dataReceived([]byte(resp[:10]))
	if r.state != stateConnecting {
		t.Fatalf("state %v after a partial head", r.state)
	}
	r.dataReceived(append([]byte(resp[10:]), serverFrame(true, 0, 1, []byte("hi"))...))
	if !opened || r.state != stateOpen || r.serverHeader != "test/1" {
		t.Fatalf("opened %v state %v server %q", opened, r.state, r.serverHeader)
	}
	if !eventsEqual(r.received, []event{textMsg("hi")}) {
		t.Errorf("received %v", r.received)
	}
}

func FuzzHandshakeResponse(f *testing.F) {
	f.Add("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n\x81\x02hi")
	f.Add("HTTP/1.1 101 OK\r\nsec-websocket-extensions: permessage-deflate; server_max_window_bits=10\r\n\r\n")
	f.Add("HTTP/1.1 404 Not Found\r\n\r\n")
	f.Fuzz(func(t *testing.T, resp string) {
		r, peer := pipeRun(t)
		drain(peer)
		r.state = stateConnecting
		r.acceptDeflate = true
		r.startHandshake()
		// Give the fuzzer a chance to produce a matching accept value.
		resp = strings.ReplaceAll(resp, "Sec-WebSocket-Accept: x", "Sec-WebSocket-Accept: "+acceptKey(r.key))
		r.dataReceived([]byte(resp))
		if r.state == stateOpen && !strings.HasPrefix(resp, "HTTP/1.1 101") {
			t.Fatalf("opened on %q", resp)
		}
	})
}

package autobahn

import (
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// ErrBadURL is returned for a server URL the runner cannot use.
var ErrBadURL = errors.New("autobahn: invalid WebSocket URL")

// errHandshake is the reason recorded when the server's opening handshake
// response is not acceptable.
var errHandshake = errors.New("autobahn: bad opening handshake response")

// wsURL is a parsed ws:// or wss:// URL.
type wsURL struct {
	secure   bool
	host     string
	port     int
	resource string // path and query, as sent in the request line
}

func parseWSURL(raw string) (*wsURL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadURL, err)
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return nil, fmt.Errorf("%w: scheme %q (want ws or wss)", ErrBadURL, u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("%w: missing host", ErrBadURL)
	}
	if u.Fragment != "" {
		return nil, fmt.Errorf("%w: fragment %q not allowed", ErrBadURL, u.Fragment)
	}
	w := &wsURL{secure: u.Scheme == "wss", host: u.Hostname(), port: 80}
	if w.secure {
		w.port = 443
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > 65535 {
			return nil, fmt.Errorf("%w: port %q", ErrBadURL, p)
		}
		w.port = n
	}
	w.resource = u.EscapedPath()
	if w.resource == "" {
		w.resource = "/"
	}
	if u.RawQuery != "" {
		w.resource += "?" + u.RawQuery
	}
	return w, nil
}

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// userAgent is what the runner announces; it names the suite it imitates.
const userAgent = "wsconform/1 (edgews; AutobahnTestSuite fuzzingclient compatible)"

// startHandshake writes the opening handshake request.
func (r *run) startHandshake() {
	var key [16]byte
	_, _ = rand.Read(key[:])
	r.key = base64.StdEncoding.EncodeToString(key[:])

	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\n", r.cfg.url.resource)
	fmt.Fprintf(&b, "User-Agent: %s\r\n", userAgent)
	if r.cfg.header.Get("Host") == "" {
		fmt.Fprintf(&b, "Host: %s\r\n", hostHeader(r.cfg.url))
	}
	b.WriteString("Upgrade: WebSocket\r\n")
	b.WriteString("Connection: Upgrade\r\n")
	b.WriteString("Pragma: no-cache\r\n")
	b.WriteString("Cache-Control: no-cache\r\n")
	keys := make([]string, 0, len(r.cfg.header))
	for k := range r.cfg.header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range r.cfg.header[k] {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	fmt.Fprintf(&b, "Sec-WebSocket-Key: %s\r\n", r.key)
	if len(r.offers) > 0 {
		parts := make([]string, len(r.offers))
		for i, o := range r.offers {
			parts[i] = o.String()
		}
		fmt.Fprintf(&b, "Sec-WebSocket-Extensions: %s\r\n", strings.Join(parts, ", "))
	}
	b.WriteString("Sec-WebSocket-Version: 13\r\n\r\n")
	r.httpRequest = b.String()
	r.sendData([]byte(r.httpRequest), false, 0)
}

func hostHeader(u *wsURL) string {
	h := u.host
	if strings.Contains(h, ":") {
		h = "[" + h + "]"
	}
	return h + ":" + strconv.Itoa(u.port)
}

// httpHead is a parsed HTTP response head.
type httpHead struct {
	status  string
	headers map[string]string // lower-cased keys; repeated headers joined by ", "
	counts  map[string]int
}

// parseHTTPHead splits the response head the way the official client does.
func parseHTTPHead(head []byte) httpHead {
	h := httpHead{headers: map[string]string{}, counts: map[string]int{}}
	lines := strings.FieldsFunc(string(head), func(c rune) bool { return c == '\n' || c == '\r' })
	if len(lines) == 0 {
		return h
	}
	h.status = strings.TrimSpace(lines[0])
	for _, line := range lines[1:] {
		i := strings.IndexByte(line, ':')
		if i <= 0 {
			continue
		}
		k := strings.ToLower(strings.TrimSpace(line[:i]))
		v := strings.TrimSpace(line[i+1:])
		if _, ok := h.headers[k]; ok {
			h.headers[k] += ", " + v
			h.counts[k]++
		} else {
			h.headers[k] = v
			h.counts[k] = 1
		}
	}
	return h
}

// checkHandshake validates the server's response head against our request.
// It returns the negotiated permessage-deflate codec, if any.
func (r *run) checkHandshake(h httpHead) (*deflateCodec, error) {
	sl := strings.Fields(h.status)
	if len(sl) < 2 {
		return nil, fmt.Errorf("%w: malformed status line %q", errHandshake, h.status)
	}
	if sl[0] != "HTTP/1.1" {
		return nil, fmt.Errorf("%w: HTTP version %q, want HTTP/1.1", errHandshake, sl[0])
	}
	code, err := strconv.Atoi(sl[1])
	if err != nil {
		return nil, fmt.Errorf("%w: malformed status code %q", errHandshake, sl[1])
	}
	if code != 101 {
		reason := ""
		if len(sl) > 2 {
			reason = " - " + strings.Join(sl[2:], "")
		}
		return nil, fmt.Errorf("%w: status %d%s, want 101", errHandshake, code, reason)
	}
	up, ok := h.headers["upgrade"]
	if !ok {
		return nil, fmt.Errorf("%w: no Upgrade header", errHandshake)
	}
	if strings.ToLower(strings.TrimSpace(up)) != "websocket" {
		return nil, fmt.Errorf("%w: Upgrade header is %q, want websocket", errHandshake, up)
	}
	conn, ok := h.headers["connection"]
	if !ok {
		return nil, fmt.Errorf("%w: no Connection header", errHandshake)
	}
	hasUpgrade := false
	for _, c := range strings.Split(conn, ",") {
		if strings.ToLower(strings.TrimSpace(c)) == "upgrade" {
			hasUpgrade = true
			break
		}
	}
	if !hasUpgrade {
		return nil, fmt.Errorf("%w: Connection header %q lacks upgrade", errHandshake, conn)
	}
	acc, ok := h.headers["sec-websocket-accept"]
	if !ok {
		return nil, fmt.Errorf("%w: no Sec-WebSocket-Accept header", errHandshake)
	}
	if h.counts["sec-websocket-accept"] > 1 {
		return nil, fmt.Errorf("%w: repeated Sec-WebSocket-Accept header", errHandshake)
	}
	if want := acceptKey(r.key); strings.TrimSpace(acc) != want {
		return nil, fmt.Errorf("%w: Sec-WebSocket-Accept is %q, want %q", errHandshake, strings.TrimSpace(acc), want)
	}
	var pmce *deflateCodec
	if ext, ok := h.headers["sec-websocket-extensions"]; ok {
		if h.counts["sec-websocket-extensions"] > 1 {
			return nil, fmt.Errorf("%w: repeated Sec-WebSocket-Extensions header", errHandshake)
		}
		for _, e := range parseExtensions(ext) {
			if e.name != "permessage-deflate" {
				return nil, fmt.Errorf("%w: server selected extension %q, which was not offered", errHandshake, e.name)
			}
			if pmce != nil {
				return nil, fmt.Errorf("%w: permessage-deflate selected twice", errHandshake)
			}
			resp, err := parseDeflateResponse(e.params)
			if err != nil {
				return nil, fmt.Errorf("%w: %v", errHandshake, err)
			}
			if !r.acceptDeflate {
				return nil, fmt.Errorf("%w: server selected permessage-deflate, which this case did not offer", errHandshake)
			}
			pmce = newDeflateCodec(resp)
		}
	}
	if sp, ok := h.headers["sec-websocket-protocol"]; ok {
		if h.counts["sec-websocket-protocol"] > 1 {
			return nil, fmt.Errorf("%w: repeated Sec-WebSocket-Protocol header", errHandshake)
		}
		if strings.TrimSpace(sp) != "" {
			return nil, fmt.Errorf("%w: server selected subprotocol %q, none was requested", errHandshake, strings.TrimSpace(sp))
		}
	}
	return pmce, nil
}

func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// processHandshake waits for the whole response head, checks it and opens
// the connection.
func (r *run) processHandshake() {
	end := bytes.Index(r.data, []byte("\r\n\r\n"))
	if end < 0 {
		return
	}
	head := r.data[:end+4]
	r.httpResponse = string(head)
	h := parseHTTPHead(head)
	pmce, err := r.checkHandshake(h)
	if err != nil {
		reason := err.Error()
		r.wasNotCleanReason = &reason
		r.dropConnection(true)
		return
	}
	r.pmce = pmce
	r.serverHeader = h.headers["server"]
	r.data = r.data[end+4:]
	r.state = stateOpen
	r.openTimer.cancel()
	r.openTimer = nil
	r.insideMessage = false
	r.frame = nil
	r.caseOpen()
	if len(r.data) > 0 {
		r.consumeData()
	}
}

package server

import (
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// pendingListener caps the connections one IP holds before they become
// sockets (or finish as plain HTTP): a slowloris client from one address
// cannot fill the server with half-sent upgrade requests. A refused
// connection gets a 429 and is closed at once.
type pendingListener struct {
	net.Listener
	max      int
	mu       sync.Mutex
	byIP     map[string]int
	refused  *atomic.Uint64
	logLimit *logLimiter
	onRefuse func(ip string)
}

var rejected429 = []byte("HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain\r\nContent-Length: 53\r\nConnection: close\r\n\r\ntoo many pending connections from this address (429)\n")

func (l *pendingListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := hostOf(c.RemoteAddr().String())
		l.mu.Lock()
		n := l.byIP[ip]
		ok := n < l.max
		if ok {
			l.byIP[ip] = n + 1
		}
		l.mu.Unlock()
		if ok {
			return &pendingConn{Conn: c, l: l, ip: ip}, nil
		}
		l.refused.Add(1)
		if l.onRefuse != nil {
			l.onRefuse(ip)
		}
		_ = c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		_, _ = c.Write(rejected429)
		_ = c.Close()
	}
}

func (l *pendingListener) release(ip string) {
	l.mu.Lock()
	if n := l.byIP[ip]; n <= 1 {
		delete(l.byIP, ip)
	} else {
		l.byIP[ip] = n - 1
	}
	l.mu.Unlock()
}

// pendingConn is a connection counted as pending until it is closed or
// becomes a socket.
type pendingConn struct {
	net.Conn
	l    *pendingListener
	ip   string
	once sync.Once
}

func (c *pendingConn) releasePending() { c.once.Do(func() { c.l.release(c.ip) }) }

func (c *pendingConn) Close() error {
	c.releasePending()
	return c.Conn.Close()
}

// unwrapPending stops counting an upgraded connection as pending and
// returns the connection underneath (plain TCP stays pollable by epoll).
func unwrapPending(c net.Conn) net.Conn {
	switch x := c.(type) {
	case *pendingConn:
		x.releasePending()
		return x.Conn
	case *tls.Conn:
		if pc, ok := x.NetConn().(*pendingConn); ok {
			pc.releasePending()
		}
	}
	return c
}

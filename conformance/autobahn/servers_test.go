package autobahn_test

import (
	"io"
	"net"
	"testing"

	"github.com/fasthttp/websocket"
	"github.com/valyala/fasthttp"
)

// listen starts a fasthttp server on a loopback port and returns its ws:// URL.
func listen(t *testing.T, handler fasthttp.RequestHandler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: handler}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return "ws://" + ln.Addr().String() + "/echo"
}

// naiveEcho is the calibration server: fasthttp/websocket reading whole
// messages and writing them back with the same type, nothing else.
func naiveEcho(compress bool) fasthttp.RequestHandler {
	up := websocket.FastHTTPUpgrader{
		CheckOrigin:       func(*fasthttp.RequestCtx) bool { return true },
		EnableCompression: compress,
	}
	return func(ctx *fasthttp.RequestCtx) {
		_ = up.Upgrade(ctx, func(c *websocket.Conn) {
			defer c.Close()
			for {
				mt, p, err := c.ReadMessage()
				if err != nil {
					return
				}
				if err := c.WriteMessage(mt, p); err != nil {
					return
				}
			}
		})
	}
}

// silent completes the opening handshake and then reads and ignores
// everything without ever closing.
func silent(ctx *fasthttp.RequestCtx) {
	up := websocket.FastHTTPUpgrader{CheckOrigin: func(*fasthttp.RequestCtx) bool { return true }}
	_ = up.Upgrade(ctx, func(c *websocket.Conn) {
		_, _ = io.Copy(io.Discard, c.NetConn())
	})
}

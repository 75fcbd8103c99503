package server_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/edgews/edgews/server"
	"github.com/edgews/edgews/server/session"
)

// Embed edgews in a Go program with your own session system and a
// listener, and send to a user from the application.
func Example() {
	// Your session system: here, one known session.
	verifier := session.Func(func(ctx context.Context, r *session.Request) (*session.Session, error) {
		if r.SessionID != "let-me-in" {
			return nil, session.Reject("unknown session")
		}
		return &session.Session{ID: "s1", User: "alice", Context: "1"}, nil
	})
	received := make(chan string, 1)
	cfg := server.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.Admin.Listen = "" // no admin API: the program talks to the server directly
	cfg.Routes = []server.RouteConfig{{Path: "/ws"}}
	srv, err := server.New(cfg,
		server.WithVerifier(verifier),
		server.WithLogger(slog.New(slog.DiscardHandler)),
		server.WithListener(server.ListenerFuncs{
			Message: func(s *server.Socket, m server.Message) {
				received <- s.User() + "@" + s.Context() + " says " + string(m.Data)
			},
		}))
	if err != nil {
		panic(err)
	}
	if err := srv.Start(); err != nil {
		panic(err)
	}
	defer srv.Shutdown(context.Background())

	// A browser connects with its session and says hello.
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+srv.Addr().String()+"/ws?session=let-me-in", nil)
	if err != nil {
		panic(err)
	}
	defer ws.Close()
	ws.WriteMessage(websocket.TextMessage, []byte("hello"))
	fmt.Println(<-received)

	// The application asks and sends.
	ex, _ := srv.Exists(context.Background(), server.Target{Context: "1", User: "alice", Path: "/ws"})
	fmt.Println("alice has a socket:", ex.Exists)
	res, _ := srv.Send(context.Background(), server.Target{Context: "1", User: "alice"},
		server.Message{Type: server.TextMessage, Data: []byte("welcome, alice")})
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, msg, _ := ws.ReadMessage()
	fmt.Printf("queued for %d socket(s); the browser got %q\n", res.Sockets, msg)

	// Output:
	// alice@1 says hello
	// alice has a socket: true
	// queued for 1 socket(s); the browser got "welcome, alice"
}

// A verifier for a session system of your own: the session id from the URL
// parameter (or a cookie), answered with the user and context it belongs
// to, or rejected (401), or unavailable (503).
func ExampleWithVerifier() {
	verifier := session.Func(func(ctx context.Context, r *session.Request) (*session.Session, error) {
		id := r.SessionID
		if id == "" {
			id, _ = r.Cookie("my_session")
		}
		switch id {
		case "":
			return nil, session.ErrMissing
		case "down":
			return nil, session.Unavailable("session store unreachable")
		case "abc":
			return &session.Session{ID: id, User: "bob", Context: "7", Expires: time.Now().Add(time.Hour)}, nil
		}
		return nil, session.Reject("unknown session %q", id)
	})
	cfg := server.DefaultConfig()
	cfg.Listen, cfg.Admin.Listen = "127.0.0.1:0", ""
	cfg.Routes = []server.RouteConfig{{Path: "/ws"}}
	srv, err := server.New(cfg, server.WithVerifier(verifier), server.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		panic(err)
	}
	srv.Start()
	defer srv.Shutdown(context.Background())
	for _, id := range []string{"abc", "nope", "down"} {
		ws, resp, err := websocket.DefaultDialer.Dial("ws://"+srv.Addr().String()+"/ws?session="+id, nil)
		if err == nil {
			fmt.Println(id, "-> 101 Switching Protocols")
			ws.Close()
			continue
		}
		fmt.Println(id, "->", resp.Status)
	}
	// Output:
	// abc -> 101 Switching Protocols
	// nope -> 401 Unauthorized
	// down -> 503 Service Unavailable
}

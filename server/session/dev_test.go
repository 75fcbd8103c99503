package session

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestDevVerifier(t *testing.T) {
	t.Parallel()
	d := NewDev()
	s := d.Login("alice", "1", 0)
	got, err := d.Verify(context.Background(), &Request{SessionID: s.ID})
	if err != nil || got.User != "alice" || got.Context != "1" || got.ID != s.ID {
		t.Fatalf("%+v %v", got, err)
	}
	if _, err := d.Verify(context.Background(), &Request{Cookies: []Cookie{{DevCookie, s.ID}}}); err != nil {
		t.Fatalf("cookie: %v", err)
	}
	if _, err := d.Verify(context.Background(), &Request{SessionID: "nope"}); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("unknown: %v", err)
	}
	d.Invalidate(s.ID)
	if _, err := d.Verify(context.Background(), &Request{SessionID: s.ID}); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("after logout: %v", err)
	}
	short := d.Login("bob", "2", 20*time.Millisecond)
	time.Sleep(40 * time.Millisecond)
	if _, err := d.Verify(context.Background(), &Request{SessionID: short.ID}); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("expired: %v", err)
	}
}

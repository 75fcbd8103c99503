//go:build !wasip1

package guesttest_test

import (
	"strings"
	"testing"

	"github.com/edgews/edgews/guest-sdk/guesttest"
)

// TestBatch drives the doc example's transcoder (example_test.go) with
// batches: its handlers run once per message, in order, with per-socket
// state carried from message to message, exactly as for single calls; a
// handler that asks to close ends the batch.
func TestBatch(t *testing.T) {
	t.Parallel()
	h := guesttest.New(t, "")
	if err := h.Open(guesttest.OpenInfo{SocketID: "s1"}); err != nil {
		t.Fatal(err)
	}
	in := []guesttest.Frame{{Data: []byte("a")}, {Binary: true, Data: []byte{0xff}}, {Data: []byte("c")}}
	if err := h.InboundBatch(in); err != nil {
		t.Fatal(err)
	}
	if err := h.OutboundBatch([]guesttest.Frame{{Data: []byte("x")}, {Data: []byte("y")}}); err != nil {
		t.Fatal(err)
	}
	if got := h.Deliveries(); len(got) != 3 || string(got[0].Data) != "A" || !got[1].Binary || string(got[2].Data) != "C" {
		t.Fatalf("deliveries = %v", got)
	}
	if got := h.Frames(); len(got) != 2 || string(got[0].Data) != "X" || string(got[1].Data) != "Y" {
		t.Fatalf("frames = %v", got)
	}
	if n, _ := h.Attr("count"); string(n) != "3" {
		t.Fatalf("count = %q, want one per inbound message", n)
	}
	if err := h.InboundBatch(nil); err != nil {
		t.Fatal(err)
	}
}

// TestBatchError: a failing handler stops the batch and the error names
// the message.
func TestBatchError(t *testing.T) {
	t.Parallel()
	h := guesttest.New(t, "")
	// The example transcoder refuses nothing itself, but once the socket
	// is closing its WriteFrame fails, and so does the handler.
	if err := h.InboundBatch([]guesttest.Frame{{Data: []byte("a")}}); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(1000, ""); err != nil {
		t.Fatal(err)
	}
	err := h.OutboundBatch([]guesttest.Frame{{Data: []byte("a")}, {Data: []byte("b")}})
	if err == nil || !strings.Contains(err.Error(), "message 0 of 2") || !strings.Contains(err.Error(), "socket closing") {
		t.Fatalf("err = %v", err)
	}
	if got := h.Frames(); len(got) != 0 {
		t.Fatalf("frames = %v", got)
	}
}

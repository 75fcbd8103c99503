//go:build !wasip1

package main

import (
	"bytes"
	"testing"

	"github.com/edgews/edgews/guest-sdk/guesttest"
)

func TestIdentity(t *testing.T) {
	t.Parallel()
	h := guesttest.New(t, "")
	if err := h.Open(guesttest.OpenInfo{SocketID: "s1", Path: "/ws"}); err != nil {
		t.Fatal(err)
	}
	msgs := []guesttest.Frame{
		{Binary: false, Data: []byte("hello")},
		{Binary: true, Data: []byte{0, 1, 2, 0xff}},
		{Binary: false, Data: []byte{}},
	}
	for _, m := range msgs {
		if err := h.Inbound(m.Binary, m.Data); err != nil {
			t.Fatal(err)
		}
		if err := h.Outbound(m.Binary, m.Data); err != nil {
			t.Fatal(err)
		}
	}
	for name, got := range map[string][]guesttest.Frame{"deliveries": h.Deliveries(), "frames": h.Frames()} {
		if len(got) != len(msgs) {
			t.Fatalf("%s = %v, want %v", name, got, msgs)
		}
		for i := range msgs {
			if got[i].Binary != msgs[i].Binary || !bytes.Equal(got[i].Data, msgs[i].Data) {
				t.Errorf("%s[%d] = %v, want %v", name, i, got[i], msgs[i])
			}
		}
	}
	if err := h.Close(1000, "bye"); err != nil {
		t.Fatal(err)
	}
}

// TestIdentityBatch: a batch comes out as its messages, in order, in both
// directions.
func TestIdentityBatch(t *testing.T) {
	t.Parallel()
	h := guesttest.New(t, "")
	msgs := []guesttest.Frame{
		{Data: []byte("one")},
		{Binary: true, Data: []byte{0xff, 0}},
		{Data: []byte{}},
		{Data: []byte("four")},
	}
	if err := h.InboundBatch(msgs); err != nil {
		t.Fatal(err)
	}
	if err := h.OutboundBatch(msgs); err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string][]guesttest.Frame{"deliveries": h.Deliveries(), "frames": h.Frames()} {
		if len(got) != len(msgs) {
			t.Fatalf("%s = %v, want %v", name, got, msgs)
		}
		for i := range msgs {
			if got[i].Binary != msgs[i].Binary || !bytes.Equal(got[i].Data, msgs[i].Data) {
				t.Errorf("%s[%d] = %v, want %v", name, i, got[i], msgs[i])
			}
		}
	}
}

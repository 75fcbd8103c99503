package wsproto

import (
	"bytes"
	"testing"
)

// TestBudget: parsers sharing a Budget are charged for partly received
// messages, refused past the limit with ErrPartialBudget (keeping nothing),
// and give everything back when a message completes or a parser is Reset.
func TestBudget(t *testing.T) {
	b := &Budget{}
	b.SetLimit(10 << 10)
	cfg := ParserConfig{MaxMessage: 1 << 20, Budget: b}
	key := [4]byte{1, 2, 3, 4}
	part := bytes.Repeat([]byte("a"), 6<<10)

	// A: the first fragment of a message, held.
	a := &Parser{Config: cfg}
	ra := &recorder{}
	if err := a.Feed(AppendClientFrame(nil, false, OpBinary, 0, key, part), ra); err != nil {
		t.Fatal(err)
	}
	heldA := b.Used()
	if heldA < int64(len(part)) {
		t.Fatalf("A holds %d bytes of a %d-byte fragment, budget says %d", len(part), len(part), heldA)
	}

	// B: a frame whose payload arrives in two reads; its first half fits
	// nowhere near, the rest would pass the limit.
	bp := &Parser{Config: cfg}
	rb := &recorder{}
	frame := AppendClientFrame(nil, true, OpBinary, 0, key, bytes.Repeat([]byte("b"), 8<<10))
	err := bp.Feed(frame[:len(frame)-100], rb)
	if err != ErrPartialBudget {
		t.Fatalf("B: err = %v, want ErrPartialBudget", err)
	}
	if got := b.Used(); got != heldA {
		t.Fatalf("after B's refusal the budget holds %d, want A's %d", got, heldA)
	}

	// A completes: its message is delivered whole and its bytes are given back.
	if err := a.Feed(AppendClientFrame(nil, true, OpContinuation, 0, key, []byte("end")), ra); err != nil {
		t.Fatal(err)
	}
	if len(ra.events) != 1 || len(ra.events[0].payload) != len(part)+3 {
		t.Fatalf("A's events: %d, want one message of %d bytes", len(ra.events), len(part)+3)
	}
	if got := b.Used(); got != 0 {
		t.Fatalf("after A's message completed the budget holds %d", got)
	}

	// A whole message in one read is never charged; a partial one is given
	// back by Reset (a connection that goes away).
	c := &Parser{Config: cfg}
	rc := &recorder{}
	if err := c.Feed(AppendClientFrame(nil, true, OpText, 0, key, []byte("whole")), rc); err != nil || b.Used() != 0 {
		t.Fatalf("whole message: err %v, budget %d", err, b.Used())
	}
	if err := c.Feed(AppendClientFrame(nil, false, OpText, 0, key, []byte("half")), rc); err != nil || b.Used() == 0 {
		t.Fatalf("partial message: err %v, budget %d", err, b.Used())
	}
	c.Reset()
	if got := b.Used(); got != 0 {
		t.Fatalf("after Reset the budget holds %d", got)
	}

	// No limit: still counted.
	b.SetLimit(0)
	bp.Reset() // it failed mid-frame; a connection would be closed
	if err := bp.Feed(AppendClientFrame(nil, false, OpBinary, 0, key, part), rb); err != nil || b.Used() == 0 {
		t.Fatalf("unlimited: err %v, budget %d", err, b.Used())
	}
	bp.Reset()
}

package wasmhost_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/edgews/edgews/wasmhost"
	"github.com/edgews/edgews/wasmhost/harness"
)

func loadHarness(t *testing.T, module string, cfg wasmhost.ModuleConfig) *harness.Harness {
	t.Helper()
	h, err := harness.Load(context.Background(), goModule(t, module), harness.Options{Runtime: shared, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

func TestIdentityModule(t *testing.T) {
	t.Parallel()
	h := loadHarness(t, "identity", wasmhost.ModuleConfig{})
	s := h.NewSocket(wasmhost.SocketInfo{ID: "s1", Path: "/ws", RawQuery: "a=1&session=secret"})
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("x"), 100000) // grows the guest's input buffer
	msgs := []harness.Frame{
		{Data: []byte("hello")},
		{Binary: true, Data: []byte{0, 1, 2}},
		{Data: big},
		{Data: []byte{}},
		{Data: []byte("after")},
	}
	for _, m := range msgs {
		if err := s.Inbound(m.Binary, m.Data); err != nil {
			t.Fatal(err)
		}
		if err := s.Outbound(m.Binary, m.Data); err != nil {
			t.Fatal(err)
		}
	}
	for name, got := range map[string][]harness.Frame{"deliveries": s.Deliveries(), "frames": s.Frames()} {
		if len(got) != len(msgs) {
			t.Fatalf("%s: got %d, want %d", name, len(got), len(msgs))
		}
		for i := range msgs {
			if got[i].Binary != msgs[i].Binary || !bytes.Equal(got[i].Data, msgs[i].Data) {
				t.Errorf("%s[%d] = %.40v, want %.40v", name, i, got[i], msgs[i])
			}
		}
	}
	if err := s.Close(1000, "bye"); err != nil {
		t.Fatal(err)
	}
	st := h.Module().Stats()
	if st.Calls != 2+2*uint64(len(msgs)) || st.Failed() != 0 || st.InstancesCreated != 1 {
		t.Fatalf("stats = %+v", st)
	}
}

// TestInterpreter runs the tiny guest on wazero's interpreter, the engine
// of platforms without the compiler.
func TestInterpreter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rt, err := wasmhost.NewRuntime(ctx, wasmhost.RuntimeConfig{Interpreter: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	if rt.Compiler() {
		t.Fatal("Compiler() = true with Interpreter set")
	}
	mod, err := rt.Load(ctx, "tiny", tinyGuest(), wasmhost.ModuleConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close(ctx)
	h := &countHost{}
	if err := mod.Inbound(ctx, h, false, []byte("via the interpreter")); err != nil || h.last != "via the interpreter" {
		t.Fatalf("delivered %q, err %v", h.last, err)
	}
	if err := rt.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Load(ctx, "late", tinyGuest(), wasmhost.ModuleConfig{}); !errors.Is(err, wasmhost.ErrClosed) {
		t.Fatalf("Load after Close: %v", err)
	}
}

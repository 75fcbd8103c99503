package wasmhost

import (
	"context"
	"testing"

	"github.com/edgews/edgews/transcoders/builtin"
)

// BenchmarkNewInstance measures starting one more instance of a loaded Go
// module (the embedded identity transcoder): instantiation, the Go
// runtime's initialisation, the version check and init. Run with
// -benchmem to see the host-side allocations; the guest's linear memory is
// reported as the "guest-KiB" metric.
func BenchmarkNewInstance(b *testing.B) {
	ctx := context.Background()
	rt, err := NewRuntime(ctx, RuntimeConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close(ctx)
	m, err := rt.Load(ctx, "identity", builtin.Identity(), ModuleConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close(ctx)
	var mem uint32
	b.ReportAllocs()
	for b.Loop() {
		inst, err := m.newInstance(ctx)
		if err != nil {
			b.Fatal(err)
		}
		mem = inst.mem.Size()
		b.StopTimer()
		inst.close(ctx)
		b.StartTimer()
	}
	b.ReportMetric(float64(mem)/1024, "guest-KiB")
}

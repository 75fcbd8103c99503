package bench

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestHistBuckets(t *testing.T) {
	t.Parallel()
	// Every value lands in a bucket whose bounds contain it, and bucket
	// bounds tile the range without gaps.
	for i := 0; i < histBuckets-1; i++ {
		if histHigh(i) != histLow(i+1) {
			t.Fatalf("bucket %d ends at %d, bucket %d starts at %d", i, histHigh(i), i+1, histLow(i+1))
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100_000 {
		v := rng.Uint64N(histMaxValue)
		if rng.IntN(4) == 0 {
			v = rng.Uint64N(1000)
		}
		i := histIndex(v)
		if v < histLow(i) || v >= histHigh(i) {
			t.Fatalf("value %d in bucket %d [%d, %d)", v, i, histLow(i), histHigh(i))
		}
		// resolution: bucket width at most 1/64 of its lower bound
		if lo := histLow(i); lo >= histExact && float64(histHigh(i)-lo) > float64(lo)/64+1 {
			t.Fatalf("bucket %d [%d, %d) is too wide", i, lo, histHigh(i))
		}
	}
	if got := histIndex(1 << 62); got != histBuckets-1 {
		t.Fatalf("huge value in bucket %d, want the last (%d)", got, histBuckets-1)
	}
}

func TestHistQuantiles(t *testing.T) {
	t.Parallel()
	var a, b hist
	// 1 µs .. 10,000 µs, each once, split over two histograms.
	for i := 1; i <= 10_000; i++ {
		h := &a
		if i%2 == 0 {
			h = &b
		}
		h.record(time.Duration(i) * time.Microsecond)
	}
	a.merge(&b)
	if a.n != 10_000 || a.max != uint64(10_000*time.Microsecond) {
		t.Fatalf("n %d max %d", a.n, a.max)
	}
	for _, tt := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 5000 * time.Microsecond}, {0.99, 9900 * time.Microsecond}, {0.999, 9990 * time.Microsecond}, {1, 10_000 * time.Microsecond}} {
		got := a.quantile(tt.q)
		if d := float64(got-tt.want) / float64(tt.want); d < -0.02 || d > 0.02 {
			t.Errorf("quantile(%v) = %v, want %v ± 2%%", tt.q, got, tt.want)
		}
	}
	var empty hist
	if empty.quantile(0.5) != 0 {
		t.Error("empty histogram must answer 0")
	}
	var small hist
	small.record(42)
	if small.quantile(0.99) != 42 {
		t.Errorf("exact small values: %v", small.quantile(0.99))
	}
}

func TestAtomicHistMatchesHist(t *testing.T) {
	t.Parallel()
	var ah atomicHist
	var h hist
	rng := rand.New(rand.NewPCG(3, 4))
	done := make(chan struct{})
	vals := make([]time.Duration, 20_000)
	for i := range vals {
		vals[i] = time.Duration(rng.Int64N(int64(time.Second)))
		h.record(vals[i])
	}
	for part := range 4 {
		go func() {
			for _, v := range vals[part*5000 : (part+1)*5000] {
				ah.record(v)
			}
			done <- struct{}{}
		}()
	}
	for range 4 {
		<-done
	}
	s := ah.snapshot()
	if s.n != h.n || s.max != h.max || s.counts != h.counts {
		t.Fatalf("atomic histogram differs: n %d/%d max %d/%d", s.n, h.n, s.max, h.max)
	}
}

package bench

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Latencies are recorded in a log-linear histogram (the HDR idea): values
// below 128 ns are exact, above that every power of two is split into 64
// buckets, so a reported quantile is within 1.6% of the true value. A
// histogram is a fixed array: recording never allocates, and merging the
// per-connection histograms at the end is a loop over counts.

const (
	histSubBits  = 6
	histSub      = 1 << histSubBits // buckets per power of two
	histExact    = 2 * histSub      // values below this are their own bucket
	histMaxBits  = 37               // 2^37 ns ≈ 137 s: anything slower is clamped
	histBuckets  = histExact + (histMaxBits-histSubBits-1)*histSub
	histMaxValue = 1<<histMaxBits - 1
)

func histIndex(v uint64) int {
	if v < histExact {
		return int(v)
	}
	if v > histMaxValue {
		v = histMaxValue
	}
	shift := bits.Len64(v) - histSubBits - 1 // ≥ 1
	top := v >> shift                        // in [histSub, 2*histSub)
	return histExact + (shift-1)*histSub + int(top-histSub)
}

// histLow and histHigh are the bounds of bucket i: [low, high).
func histLow(i int) uint64 {
	if i < histExact {
		return uint64(i)
	}
	i -= histExact
	shift := i/histSub + 1
	return uint64(histSub+i%histSub) << shift
}

func histHigh(i int) uint64 {
	if i < histExact {
		return uint64(i) + 1
	}
	shift := (i-histExact)/histSub + 1
	return histLow(i) + 1<<shift
}

// hist is a latency histogram for one goroutine.
type hist struct {
	counts [histBuckets]uint64
	n      uint64
	max    uint64
}

func (h *hist) record(d time.Duration) {
	v := uint64(max(d, 0))
	h.counts[histIndex(v)]++
	h.n++
	h.max = max(h.max, v)
}

func (h *hist) merge(o *hist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile returns the q-quantile (0 < q ≤ 1) as the middle of its bucket,
// or 0 for an empty histogram.
func (h *hist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, hi := histLow(i), histHigh(i)
			v := lo + (hi-lo)/2
			if i < histExact {
				v = lo
			}
			return time.Duration(min(v, h.max))
		}
	}
	return time.Duration(h.max)
}

// atomicHist is a histogram many goroutines record into at once (fan-out
// and cluster receivers: thousands of sockets, one message each per round).
type atomicHist struct {
	counts [histBuckets]atomic.Uint64
	max    atomic.Uint64
}

func (h *atomicHist) record(d time.Duration) {
	v := uint64(max(d, 0))
	h.counts[histIndex(v)].Add(1)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// snapshot copies the counts into a plain histogram.
func (h *atomicHist) snapshot() *hist {
	out := &hist{max: h.max.Load()}
	for i := range h.counts {
		c := h.counts[i].Load()
		out.counts[i] = c
		out.n += c
	}
	return out
}

package autobahn

import (
	"container/heap"
	"time"
)

// timer is a callback scheduled on a case's event loop. Callbacks run on the
// loop goroutine, in deadline order, and in scheduling order for equal
// deadlines.
type timer struct {
	at        time.Time
	seq       uint64
	fn        func()
	cancelled bool
	index     int
}

func (t *timer) cancel() {
	if t != nil {
		t.cancelled = true
	}
}

type timerQueue struct {
	items []*timer
	seq   uint64
}

func (q *timerQueue) Len() int { return len(q.items) }
func (q *timerQueue) Less(i, j int) bool {
	a, b := q.items[i], q.items[j]
	if a.at.Equal(b.at) {
		return a.seq < b.seq
	}
	return a.at.Before(b.at)
}
func (q *timerQueue) Swap(i, j int) {
	q.items[i], q.items[j] = q.items[j], q.items[i]
	q.items[i].index = i
	q.items[j].index = j
}
func (q *timerQueue) Push(x any) {
	t := x.(*timer)
	t.index = len(q.items)
	q.items = append(q.items, t)
}
func (q *timerQueue) Pop() any {
	n := len(q.items)
	t := q.items[n-1]
	q.items[n-1] = nil
	q.items = q.items[:n-1]
	return t
}

func (q *timerQueue) schedule(at time.Time, fn func()) *timer {
	q.seq++
	t := &timer{at: at, seq: q.seq, fn: fn}
	heap.Push(q, t)
	return t
}

// next returns the deadline of the earliest live timer.
func (q *timerQueue) next() (time.Time, bool) {
	for len(q.items) > 0 {
		if q.items[0].cancelled {
			heap.Pop(q)
			continue
		}
		return q.items[0].at, true
	}
	return time.Time{}, false
}

// popDue removes and returns the earliest live timer due at now.
func (q *timerQueue) popDue(now time.Time) *timer {
	at, ok := q.next()
	if !ok || at.After(now) {
		return nil
	}
	return heap.Pop(q).(*timer)
}

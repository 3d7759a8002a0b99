package store

import "sort"

// topN keeps the best n values offered, best by before (a sorts before
// b), in a heap whose root is the worst kept: the bounded top-N of a
// listing in default order. Its storage grows with what is offered, so a
// large n costs nothing until values come.
type topN[T any] struct {
	items  []T
	n      int
	before func(a, b *T) bool
}

// full reports whether n values are kept; worst is then the one a new
// value must beat.
func (h *topN[T]) full() bool { return len(h.items) >= h.n }

// worst is the worst value kept; h must not be empty.
func (h *topN[T]) worst() *T { return &h.items[0] }

// offer keeps x while there is room, or in place of the worst value kept
// when x sorts before it.
func (h *topN[T]) offer(x T) {
	if len(h.items) < h.n {
		h.items = append(h.items, x)
		h.up(len(h.items) - 1)
		return
	}
	if h.n == 0 {
		return
	}
	// x is compared from a spare slot past the values kept: a pointer to
	// x itself, passed to before, would move every x offered to the heap.
	h.items = append(h.items, x)
	spare := &h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	if h.before(spare, &h.items[0]) {
		h.items[0] = *spare
		h.down(0)
	}
}

// sorted returns the values kept, best first, in h's storage.
func (h *topN[T]) sorted() []T {
	sort.Slice(h.items, func(i, j int) bool { return h.before(&h.items[i], &h.items[j]) })
	return h.items
}

// worse reports whether item i must be nearer the root than item j.
func (h *topN[T]) worse(i, j int) bool { return h.before(&h.items[j], &h.items[i]) }

func (h *topN[T]) up(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if !h.worse(j, i) {
			break
		}
		h.items[i], h.items[j] = h.items[j], h.items[i]
		j = i
	}
}

func (h *topN[T]) down(i int) {
	n := len(h.items)
	for {
		j := 2*i + 1
		if j >= n {
			return
		}
		if j2 := j + 1; j2 < n && h.worse(j2, j) {
			j = j2
		}
		if !h.worse(j, i) {
			return
		}
		h.items[i], h.items[j] = h.items[j], h.items[i]
		i = j
	}
}

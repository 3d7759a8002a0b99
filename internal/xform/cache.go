package xform

import (
	"sync/atomic"
	"time"
)

// Cache is a transformer's per-series state, bounded in two ways: an entry
// not used for Idle is gone (a lookup treats it as absent, and Expire
// removes it), and at Max entries the least recently used one makes room
// for a new series. Both are counted. Entries live in one slice linked in
// recency order, so lookups and evictions cost O(1) and no allocation once
// the slice has grown. Not safe for concurrent use, except the counters.
type Cache[K comparable, V any] struct {
	idle time.Duration
	max  int

	idx        map[K]int32
	ents       []entry[K, V]
	head, tail int32 // most and least recently used; -1 when empty
	free       int32 // free list through next; -1 when empty

	expired, evicted atomic.Uint64
}

type entry[K comparable, V any] struct {
	key        K
	val        V
	seen       int64 // unix nanoseconds of the last use
	prev, next int32
}

// NewCache returns an empty cache. idle <= 0 means entries never expire;
// max must be at least 1.
func NewCache[K comparable, V any](idle time.Duration, maxEntries int) *Cache[K, V] {
	return &Cache[K, V]{idle: idle, max: max(maxEntries, 1), idx: make(map[K]int32), head: -1, tail: -1, free: -1}
}

// Len is the number of entries (expired ones not yet removed included).
func (c *Cache[K, V]) Len() int { return len(c.idx) }

// Expired counts entries removed for being idle.
func (c *Cache[K, V]) Expired() uint64 { return c.expired.Load() }

// Evicted counts entries removed to make room.
func (c *Cache[K, V]) Evicted() uint64 { return c.evicted.Load() }

// Get returns key's value, marking it used at now, or nil (an entry idle
// for longer than Idle is removed and counted, not returned). The pointer
// is valid until the next Put.
func (c *Cache[K, V]) Get(key K, now time.Time) *V {
	i, ok := c.idx[key]
	if !ok {
		return nil
	}
	e := &c.ents[i]
	t := now.UnixNano()
	if c.stale(e.seen, t) {
		c.remove(i)
		c.expired.Add(1)
		return nil
	}
	e.seen = t
	c.toFront(i)
	return &e.val
}

// Put adds key with a zero value, marked used at now, and returns it; the
// least recently used entry goes first if the cache is full. key must not
// be in the cache. The pointer is valid until the next Put.
func (c *Cache[K, V]) Put(key K, now time.Time) *V {
	if len(c.idx) >= c.max {
		c.remove(c.tail)
		c.evicted.Add(1)
	}
	var i int32
	if c.free >= 0 {
		i = c.free
		c.free = c.ents[i].next
	} else {
		c.ents = append(c.ents, entry[K, V]{})
		i = int32(len(c.ents) - 1)
	}
	c.ents[i] = entry[K, V]{key: key, seen: now.UnixNano(), prev: -1, next: c.head}
	if c.head >= 0 {
		c.ents[c.head].prev = i
	}
	c.head = i
	if c.tail < 0 {
		c.tail = i
	}
	c.idx[key] = i
	return &c.ents[i].val
}

// Delete removes key if present.
func (c *Cache[K, V]) Delete(key K) {
	if i, ok := c.idx[key]; ok {
		c.remove(i)
	}
}

// Expire removes the entries idle for longer than Idle at now, oldest
// first, and returns how many.
func (c *Cache[K, V]) Expire(now time.Time) int {
	t := now.UnixNano()
	n := 0
	for c.tail >= 0 && c.stale(c.ents[c.tail].seen, t) {
		c.remove(c.tail)
		n++
	}
	c.expired.Add(uint64(n))
	return n
}

// Each calls fn for every entry, most recently used first, until fn
// returns false. fn must not change the cache.
func (c *Cache[K, V]) Each(fn func(key K, v *V) bool) {
	for i := c.head; i >= 0; i = c.ents[i].next {
		if !fn(c.ents[i].key, &c.ents[i].val) {
			return
		}
	}
}

func (c *Cache[K, V]) stale(seen, now int64) bool {
	return c.idle > 0 && now-seen > int64(c.idle)
}

func (c *Cache[K, V]) toFront(i int32) {
	if c.head == i {
		return
	}
	c.unlink(i)
	e := &c.ents[i]
	e.prev, e.next = -1, c.head
	c.ents[c.head].prev = i
	c.head = i
	if c.tail < 0 {
		c.tail = i
	}
}

func (c *Cache[K, V]) unlink(i int32) {
	e := &c.ents[i]
	if e.prev >= 0 {
		c.ents[e.prev].next = e.next
	} else {
		c.head = e.next
	}
	if e.next >= 0 {
		c.ents[e.next].prev = e.prev
	} else {
		c.tail = e.prev
	}
}

func (c *Cache[K, V]) remove(i int32) {
	c.unlink(i)
	delete(c.idx, c.ents[i].key)
	c.ents[i] = entry[K, V]{next: c.free} // drop references for the GC
	c.free = i
}

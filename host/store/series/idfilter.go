package series

import (
	"hash/maphash"

	"github.com/cockroachdb/pebble/v2"
)

// idFilter is an in-memory Bloom filter over the stored message-id index
// keys (msgKey: project and id): most ids Write sees are new, and "definitely not stored" spares a Pebble Get
// (a random memtable and table probe) per input. It is rebuilt from the
// index, at twice the size, whenever insertions exceed its capacity, which
// also forgets ids retention deleted.
type idFilter struct {
	seed maphash.Seed
	bits []uint64
	n    int // insertions since built
	cap  int
}

const (
	idFilterBitsPerID = 10
	idFilterHashes    = 7
	idFilterMinCap    = 1 << 16
)

func newIDFilter(capacity int) *idFilter {
	capacity = max(capacity, idFilterMinCap)
	return &idFilter{seed: maphash.MakeSeed(), bits: make([]uint64, (capacity*idFilterBitsPerID+63)/64), cap: capacity}
}

func (f *idFilter) positions(id string, fn func(word int, mask uint64) bool) bool {
	h := maphash.String(f.seed, id)
	h1, h2 := h, h>>32|h<<32|1
	m := uint64(len(f.bits) * 64)
	for i := range uint64(idFilterHashes) {
		p := (h1 + i*h2) % m
		if !fn(int(p/64), 1<<(p%64)) {
			return false
		}
	}
	return true
}

func (f *idFilter) add(id string) {
	f.positions(id, func(w int, mask uint64) bool { f.bits[w] |= mask; return true })
	f.n++
}

// mayHave reports false only when id was never added.
func (f *idFilter) mayHave(id string) bool {
	return f.positions(id, func(w int, mask uint64) bool { return f.bits[w]&mask != 0 })
}

func (f *idFilter) full() bool { return f.n > f.cap }

// buildIDFilter makes a filter holding every message-id index key in r
// (msgKey, as strings), with room for as many again (at least capacity).
func buildIDFilter(r reader, capacity int) (*idFilter, error) {
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: []byte{pMsgID, msgUUID}, UpperBound: []byte{pMsgID + 1}})
	if err != nil {
		return nil, err
	}
	var ids []string
	for ok := it.First(); ok; ok = it.Next() {
		ids = append(ids, string(it.Key()))
	}
	if err := it.Close(); err != nil {
		return nil, err
	}
	f := newIDFilter(max(capacity, 2*len(ids)))
	for _, id := range ids {
		f.add(id)
	}
	return f, nil
}

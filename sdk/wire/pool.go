package wire

import (
	"math/bits"
	"sync"

	"google.golang.org/grpc/mem"
)

// bufferPool is a mem.BufferPool of buffers in power-of-two sizes that,
// unlike gRPC's default pool, does not clear a buffer it hands out: that
// pool clears the whole capacity of each one, and its tiers jump from 32 KiB
// to 1 MiB, so every batch of about 100 KiB the codec encoded or gathered
// from its frames cost clearing a megabyte (8% of a plugin's CPU in the
// pipeline benchmark). Codec fills every byte of a buffer before it is read.
// Safe for concurrent use; the zero value is ready.
type bufferPool struct {
	tiers [maxPoolShift - minPoolShift + 1]sync.Pool // of *[]byte; tier i holds cap 1<<(minPoolShift+i)
}

// The pooled sizes: 4 KiB to 64 MiB; others are allocated and dropped.
const (
	minPoolShift = 12
	maxPoolShift = 26
)

var _ mem.BufferPool = (*bufferPool)(nil)

// tier is the index of the smallest tier holding n bytes, or -1.
func tier(n int) int {
	if n <= 0 {
		return -1
	}
	t := max(bits.Len(uint(n-1)), minPoolShift) - minPoolShift
	if t >= len((*bufferPool)(nil).tiers) {
		return -1
	}
	return t
}

// Get returns a buffer of length size; its bytes are not cleared.
func (p *bufferPool) Get(size int) *[]byte {
	t := tier(size)
	if t < 0 {
		b := make([]byte, size)
		return &b
	}
	if v, ok := p.tiers[t].Get().(*[]byte); ok {
		*v = (*v)[:size]
		return v
	}
	b := make([]byte, size, 1<<(minPoolShift+t))
	return &b
}

// Put recycles b, if it is of a pooled size.
func (p *bufferPool) Put(b *[]byte) {
	c := cap(*b)
	if t := tier(c); t >= 0 && c == 1<<(minPoolShift+t) {
		p.tiers[t].Put(b)
	}
}

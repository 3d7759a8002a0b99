package wire

import (
	"testing"
)

func TestBufferPool(t *testing.T) {
	var p bufferPool
	for _, size := range []int{0, 1, 4096, 4097, 100_000, 1 << 26, 1<<26 + 1} {
		b := p.Get(size)
		if len(*b) != size {
			t.Fatalf("Get(%d): len %d", size, len(*b))
		}
		if tr := tier(size); tr >= 0 && cap(*b) != 1<<(minPoolShift+tr) {
			t.Fatalf("Get(%d): cap %d, want tier %d", size, cap(*b), tr)
		}
		p.Put(b)
	}
	if tier(1<<26+1) != -1 || tier(0) != -1 || tier(4096) != 0 || tier(4097) != 1 {
		t.Fatal("tier bounds")
	}
	// A buffer of a size no tier holds is not pooled.
	odd := make([]byte, 5000)
	p.Put(&odd)
	if b := p.Get(5000); cap(*b) != 8192 {
		t.Fatalf("Get(5000) after Put of an odd buffer: cap %d", cap(*b))
	}
}

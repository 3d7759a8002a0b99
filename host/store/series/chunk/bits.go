package chunk

import (
	"encoding/binary"
	"errors"
)

// ErrCorrupt means a chunk's bytes cannot be decoded.
var ErrCorrupt = errors.New("corrupt chunk")

// bitWriter appends bits most significant first.
type bitWriter struct {
	b     []byte
	count uint8 // free bits in the last byte
}

func (w *bitWriter) writeBit(bit bool) {
	if w.count == 0 {
		w.b = append(w.b, 0)
		w.count = 8
	}
	w.count--
	if bit {
		w.b[len(w.b)-1] |= 1 << w.count
	}
}

// writeBits writes the nbits low bits of u (nbits <= 64).
func (w *bitWriter) writeBits(u uint64, nbits int) {
	if nbits < 64 {
		u &= (1 << uint(nbits)) - 1
	}
	for nbits > 0 {
		if w.count == 0 {
			w.b = append(w.b, 0)
			w.count = 8
		}
		n := min(int(w.count), nbits)
		shift := nbits - n
		chunk := byte(u >> uint(shift))
		if n < 8 {
			chunk &= (1 << uint(n)) - 1
		}
		w.b[len(w.b)-1] |= chunk << (w.count - uint8(n))
		w.count -= uint8(n)
		nbits -= n
	}
}

// bitReader reads bits most significant first.
type bitReader struct {
	b   []byte
	pos int // bit position
}

func (r *bitReader) readBit() (bool, error) {
	if r.pos >= len(r.b)*8 {
		return false, ErrCorrupt
	}
	bit := r.b[r.pos>>3]&(0x80>>uint(r.pos&7)) != 0
	r.pos++
	return bit, nil
}

// peek returns the bits from the current position, most significant
// first, at least 57 of them valid; false near the chunk's end, where the
// callers take the bit-by-bit path.
func (r *bitReader) peek() (uint64, bool) {
	at := r.pos >> 3
	if at+8 > len(r.b) {
		return 0, false
	}
	return binary.BigEndian.Uint64(r.b[at:]) << uint(r.pos&7), true
}

func (r *bitReader) readBits(nbits int) (uint64, error) {
	if r.pos+nbits > len(r.b)*8 {
		return 0, ErrCorrupt
	}
	// Fast path: the bits lie in the eight bytes from the current one.
	if at := r.pos >> 3; nbits <= 56 && at+8 <= len(r.b) {
		w := binary.BigEndian.Uint64(r.b[at:])
		u := w << uint(r.pos&7) >> uint(64-nbits)
		r.pos += nbits
		return u, nil
	}
	var u uint64
	for nbits > 0 {
		off := r.pos & 7
		avail := 8 - off
		n := min(avail, nbits)
		byt := r.b[r.pos>>3] << uint(off) >> uint(8-n)
		u = u<<uint(n) | uint64(byt)
		r.pos += n
		nbits -= n
	}
	return u, nil
}

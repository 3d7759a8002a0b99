package chunk

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
)

// version is the first byte of every chunk.
const version = 1

// MaxMessageID is the longest message id a chunk stores.
const MaxMessageID = 1 << 16

// ErrOutOfOrder means a sample was appended with a timestamp before the
// previous one.
var ErrOutOfOrder = errors.New("sample out of order")

// Sample is one stored sample. T and Recorded are unix microseconds.
type Sample struct {
	T         int64
	V         float64
	MessageID string
	Recorded  int64
}

// Value modes: XOR of float bits (Gorilla), or decimal: every value is an
// integer times 10^-d (d = mode-1, at most maxDecimals), coded as deltas of
// those integers.
const (
	modeXOR     = 0
	maxDecimals = 9
)

var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9}

// Encoder appends samples, in non-decreasing time order, to a chunk. The
// zero value is an empty chunk ready for use, with XOR-coded values; Encode
// also tries the decimal mode and keeps the smaller chunk.
type Encoder struct {
	mode    byte
	iv      int64 // previous scaled integer, decimal mode
	w       bitWriter
	n       int
	t       int64
	tDelta  int64
	v       uint64
	lead    uint8
	trail   uint8
	r       int64
	rDelta  int64
	started bool
}

// Len returns the number of samples appended so far.
func (e *Encoder) Len() int { return e.n }

// Append adds s to the chunk. It returns ErrOutOfOrder when s.T is before
// the last appended timestamp, and an error for an oversized message id.
func (e *Encoder) Append(s Sample) error {
	if len(s.MessageID) > MaxMessageID {
		return fmt.Errorf("append message id of %d bytes: longer than %d", len(s.MessageID), MaxMessageID)
	}
	if e.mode != modeXOR {
		if _, ok := scaled(s.V, int(e.mode-1)); !ok {
			return fmt.Errorf("append value %v: not a decimal with %d digits", s.V, e.mode-1)
		}
	}
	if !e.started {
		e.started = true
		e.w.writeBits(uint64(s.T), 64)
		if e.mode != modeXOR {
			e.iv, _ = scaled(s.V, int(e.mode-1))
			e.w.writeBits(uint64(e.iv), 64)
		} else {
			e.w.writeBits(math.Float64bits(s.V), 64)
		}
		e.rDelta = s.Recorded - s.T
		writeDod(&e.w, e.rDelta)
		e.t, e.v, e.r = s.T, math.Float64bits(s.V), s.Recorded
		e.lead = 0xff
		e.writeID(s.MessageID)
		e.n++
		return nil
	}
	if s.T < e.t {
		return fmt.Errorf("append t=%d after t=%d: %w", s.T, e.t, ErrOutOfOrder)
	}
	delta := s.T - e.t
	if delta < 0 {
		return fmt.Errorf("append t=%d after t=%d: time delta overflows", s.T, e.t)
	}
	writeDod(&e.w, delta-e.tDelta)
	e.t, e.tDelta = s.T, delta
	if e.mode != modeXOR {
		iv, _ := scaled(s.V, int(e.mode-1))
		writeDod(&e.w, iv-e.iv)
		e.iv = iv
	} else {
		e.writeValue(math.Float64bits(s.V))
	}
	rd := s.Recorded - e.r
	writeDod(&e.w, rd-e.rDelta)
	e.r, e.rDelta = s.Recorded, rd
	e.writeID(s.MessageID)
	e.n++
	return nil
}

func (e *Encoder) writeValue(v uint64) {
	x := v ^ e.v
	e.v = v
	if x == 0 {
		e.w.writeBit(false)
		return
	}
	e.w.writeBit(true)
	lead, trail := uint8(bits.LeadingZeros64(x)), uint8(bits.TrailingZeros64(x))
	if lead >= 32 {
		lead = 31
	}
	if e.lead != 0xff && lead >= e.lead && trail >= e.trail {
		e.w.writeBit(false)
		e.w.writeBits(x>>e.trail, int(64-e.lead-e.trail))
		return
	}
	e.lead, e.trail = lead, trail
	e.w.writeBit(true)
	e.w.writeBits(uint64(lead), 5)
	sig := 64 - lead - trail
	e.w.writeBits(uint64(sig), 6) // 64 is written as 0
	e.w.writeBits(x>>trail, int(sig))
}

func (e *Encoder) writeID(id string) {
	if id == "" {
		e.w.writeBit(false)
		return
	}
	e.w.writeBit(true)
	if u, ok := ParseUUID(id); ok {
		e.w.writeBit(false)
		e.w.writeBits(binary.BigEndian.Uint64(u[:8]), 64)
		e.w.writeBits(binary.BigEndian.Uint64(u[8:]), 64)
		return
	}
	e.w.writeBit(true)
	if len(id) < 255 {
		e.w.writeBits(uint64(len(id)), 8)
	} else {
		e.w.writeBits(255, 8)
		e.w.writeBits(uint64(len(id)), 32)
	}
	for i := 0; i < len(id); i++ {
		e.w.writeBits(uint64(id[i]), 8)
	}
}

// Bytes returns the encoded chunk. The encoder stays usable.
func (e *Encoder) Bytes() []byte {
	out := make([]byte, 0, 1+binary.MaxVarintLen64+len(e.w.b))
	out = append(out, version)
	out = binary.AppendUvarint(out, uint64(e.n))
	out = append(out, e.mode)
	return append(out, e.w.b...)
}

// Delta-of-delta buckets: prefix bits and payload widths.
var dodWidths = [...]int{7, 14, 24, 36}

// writeDod writes d in the smallest bucket: '0' for 0, '10'+7 bits,
// '110'+14, '1110'+24, '11110'+36, '11111'+64.
func writeDod(w *bitWriter, d int64) {
	if d == 0 {
		w.writeBit(false)
		return
	}
	for i, n := range dodWidths {
		if d >= -(1<<(n-1)) && d < 1<<(n-1) {
			w.writeBits((1<<uint(i+2))-2, i+2) // i+1 ones, then a zero
			w.writeBits(uint64(d), n)
			return
		}
	}
	w.writeBits(0x1f, 5)
	w.writeBits(uint64(d), 64)
}

func readDod(r *bitReader) (int64, error) {
	if w, ok := r.peek(); ok {
		// The prefix and the payload (at most 5+36 bits) lie in w.
		ones := bits.LeadingZeros64(^w)
		if ones == 0 {
			r.pos++
			return 0, nil
		}
		if ones < 5 {
			n := dodWidths[ones-1]
			u := int64(w<<uint(ones+1)) >> uint(64-n) // sign-extended
			r.pos += ones + 1 + n
			return u, nil
		}
	}
	ones := 0
	for ones < 5 {
		b, err := r.readBit()
		if err != nil {
			return 0, err
		}
		if !b {
			break
		}
		ones++
	}
	if ones == 0 {
		return 0, nil
	}
	n := 64
	if ones <= len(dodWidths) {
		n = dodWidths[ones-1]
	}
	u, err := r.readBits(n)
	if err != nil {
		return 0, err
	}
	if n < 64 && u&(1<<uint(n-1)) != 0 {
		u |= ^uint64(0) << uint(n) // sign-extend
	}
	return int64(u), nil
}

// Iterator decodes a chunk sample by sample.
type Iterator struct {
	r      bitReader
	mode   byte
	iv     int64
	n, i   int
	cur    Sample
	tDelta int64
	v      uint64
	lead   uint8
	trail  uint8
	rDelta int64
	err    error
}

// NewIterator returns an iterator over chunk b, which it does not copy.
func NewIterator(b []byte) (*Iterator, error) {
	it := &Iterator{}
	if err := it.Reset(b); err != nil {
		return nil, err
	}
	return it, nil
}

// Reset makes the iterator decode b from its start.
func (it *Iterator) Reset(b []byte) error {
	*it = Iterator{}
	n, err := Count(b)
	if err != nil {
		it.err = err
		return err
	}
	_, k := binary.Uvarint(b[1:])
	it.mode = b[1+k]
	it.r = bitReader{b: b[2+k:]}
	it.n = n
	return nil
}

// Count returns the number of samples in chunk b without decoding them.
func Count(b []byte) (int, error) {
	if len(b) < 2 || b[0] != version {
		return 0, fmt.Errorf("read chunk header: %w", ErrCorrupt)
	}
	n, k := binary.Uvarint(b[1:])
	if k <= 0 || n > uint64(len(b))*8 || len(b) < 2+k || b[1+k] > maxDecimals+1 {
		return 0, fmt.Errorf("read chunk count: %w", ErrCorrupt)
	}
	return int(n), nil
}

// Next advances to the next sample and reports whether there is one.
func (it *Iterator) Next() bool {
	if it.err != nil || it.i >= it.n {
		return false
	}
	if err := it.next(); err != nil {
		it.err = fmt.Errorf("decode sample %d of %d: %w", it.i, it.n, err)
		return false
	}
	it.i++
	return true
}

func (it *Iterator) next() error {
	if it.i == 0 {
		t, err := it.r.readBits(64)
		if err != nil {
			return err
		}
		v, err := it.r.readBits(64)
		if err != nil {
			return err
		}
		rd, err := readDod(&it.r)
		if err != nil {
			return err
		}
		it.cur.T, it.v, it.rDelta = int64(t), v, rd
		if it.mode != modeXOR {
			it.iv = int64(v)
			it.v = math.Float64bits(float64(it.iv) / pow10[it.mode-1])
		}
		it.cur.Recorded = it.cur.T + rd
		it.lead = 0xff
	} else {
		dod, err := readDod(&it.r)
		if err != nil {
			return err
		}
		it.tDelta += dod
		if it.tDelta < 0 {
			return ErrCorrupt
		}
		it.cur.T += it.tDelta
		if it.mode != modeXOR {
			d, err := readDod(&it.r)
			if err != nil {
				return err
			}
			it.iv += d
			it.v = math.Float64bits(float64(it.iv) / pow10[it.mode-1])
		} else if err := it.readValue(); err != nil {
			return err
		}
		dod, err = readDod(&it.r)
		if err != nil {
			return err
		}
		it.rDelta += dod
		it.cur.Recorded += it.rDelta
	}
	it.cur.V = math.Float64frombits(it.v)
	id, err := it.readID()
	if err != nil {
		return err
	}
	it.cur.MessageID = id
	return nil
}

func (it *Iterator) readValue() error {
	if w, ok := it.r.peek(); ok {
		switch {
		case w>>63 == 0: // the value repeats
			it.r.pos++
			return nil
		case w>>62&1 == 0 && it.lead != 0xff: // the previous window
			if n := 64 - int(it.lead) - int(it.trail); 2+n <= 57 {
				it.v ^= w << 2 >> uint(64-n) << it.trail
				it.r.pos += 2 + n
				return nil
			}
		case w>>62&1 == 1: // a new window: 5 bits lead, 6 bits size
			lead, sig := int(w>>57&31), int(w>>51&63)
			if sig == 0 {
				sig = 64
			}
			if lead+sig > 64 {
				return ErrCorrupt
			}
			if 13+sig <= 57 {
				it.lead, it.trail = uint8(lead), uint8(64-lead-sig)
				it.v ^= w << 13 >> uint(64-sig) << it.trail
				it.r.pos += 13 + sig
				return nil
			}
		}
	}
	b, err := it.r.readBit()
	if err != nil || !b {
		return err
	}
	b, err = it.r.readBit()
	if err != nil {
		return err
	}
	if b {
		lead, err := it.r.readBits(5)
		if err != nil {
			return err
		}
		sig, err := it.r.readBits(6)
		if err != nil {
			return err
		}
		if sig == 0 {
			sig = 64
		}
		if lead+sig > 64 {
			return ErrCorrupt
		}
		it.lead, it.trail = uint8(lead), uint8(64-lead-sig)
	} else if it.lead == 0xff {
		return ErrCorrupt
	}
	x, err := it.r.readBits(int(64 - it.lead - it.trail))
	if err != nil {
		return err
	}
	it.v ^= x << it.trail
	return nil
}

func (it *Iterator) readID() (string, error) {
	b, err := it.r.readBit()
	if err != nil || !b {
		return "", err
	}
	raw, err := it.r.readBit()
	if err != nil {
		return "", err
	}
	if !raw {
		var u [16]byte
		hi, err := it.r.readBits(64)
		if err != nil {
			return "", err
		}
		lo, err := it.r.readBits(64)
		if err != nil {
			return "", err
		}
		binary.BigEndian.PutUint64(u[:8], hi)
		binary.BigEndian.PutUint64(u[8:], lo)
		return FormatUUID(u), nil
	}
	n, err := it.r.readBits(8)
	if err != nil {
		return "", err
	}
	if n == 255 {
		if n, err = it.r.readBits(32); err != nil {
			return "", err
		}
	}
	if n == 0 || n > MaxMessageID || int(n)*8 > len(it.r.b)*8-it.r.pos {
		return "", ErrCorrupt
	}
	buf := make([]byte, n)
	for i := range buf {
		c, err := it.r.readBits(8)
		if err != nil {
			return "", err
		}
		buf[i] = byte(c)
	}
	return string(buf), nil
}

// At returns the current sample.
func (it *Iterator) At() Sample { return it.cur }

// Err returns the decoding error that stopped Next, if any.
func (it *Iterator) Err() error { return it.err }

// Decode returns all samples of chunk b.
func Decode(b []byte) ([]Sample, error) {
	it, err := NewIterator(b)
	if err != nil {
		return nil, err
	}
	out := make([]Sample, 0, it.n)
	for it.Next() {
		out = append(out, it.At())
	}
	if it.Err() != nil {
		return nil, it.Err()
	}
	return out, nil
}

// Encode returns a chunk holding ss, which must be sorted by T: the
// smaller of the XOR and, when every value is a short decimal, the decimal
// coding.
func Encode(ss []Sample) ([]byte, error) {
	var e Encoder
	for _, s := range ss {
		if err := e.Append(s); err != nil {
			return nil, err
		}
	}
	out := e.Bytes()
	if d, ok := decimals(ss); ok {
		dec := Encoder{mode: byte(d + 1)}
		var err error
		for _, s := range ss {
			if err = dec.Append(s); err != nil {
				break // a value not exact at d digits after all: keep XOR
			}
		}
		if b := dec.Bytes(); err == nil && len(b) < len(out) {
			out = b
		}
	}
	return out, nil
}

// scaled returns v*10^d as an integer when v is exactly that integer
// divided by 10^d (and the integer's deltas cannot overflow).
func scaled(v float64, d int) (int64, bool) {
	x := math.Round(v * pow10[d])
	if math.Abs(x) >= 1<<53 {
		return 0, false
	}
	i := int64(x)
	if math.Float64bits(float64(i)/pow10[d]) != math.Float64bits(v) {
		return 0, false
	}
	return i, true
}

// decimals returns the fewest decimal digits with which every value is
// exactly representable, if any.
func decimals(ss []Sample) (int, bool) {
	d := 0
	for _, s := range ss {
		for {
			if _, ok := scaled(s.V, d); ok {
				break
			}
			if d++; d > maxDecimals {
				return 0, false
			}
		}
	}
	return d, true
}

const hexDigits = "0123456789abcdef"

// ParseUUID parses a canonical lowercase UUID string (8-4-4-4-12 hex), the
// form FormatUUID gives back.
func ParseUUID(s string) ([16]byte, bool) {
	var u [16]byte
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	j := 0
	for i := 0; i < 36; {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			i++
			continue
		}
		hi, ok1 := unhex(s[i])
		lo, ok2 := unhex(s[i+1])
		if !ok1 || !ok2 {
			return u, false
		}
		u[j] = hi<<4 | lo
		j++
		i += 2
	}
	return u, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// FormatUUID formats u as a canonical lowercase UUID string.
func FormatUUID(u [16]byte) string {
	var b [36]byte
	j := 0
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b[j] = '-'
			j++
		}
		b[j], b[j+1] = hexDigits[c>>4], hexDigits[c&0xf]
		j += 2
	}
	return string(b[:])
}

package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"
)

// maxMsgpackDepth bounds the nesting of maps and arrays in one datagram.
const maxMsgpackDepth = 32

var errMsgpackShort = errors.New("msgpack: truncated value")

// decodeMsgpack decodes the one msgpack value data holds into what
// Python's msgpack.loads(raw=False) gives Ceilometer's collector: maps with
// string keys as map[string]any, arrays as []any, integers as int64 (uint64
// above MaxInt64), floats as float64, str as string (valid UTF-8), bin as
// []byte, nil and bools. Trailing bytes, ext types, non-string map keys and
// nesting deeper than maxMsgpackDepth are errors.
//
// It is its own small decoder rather than vmihailenco/msgpack's
// DecodeInterface because a datagram is hostile input: that one allocates a
// map or slice of the length a header claims (a 5-byte datagram can ask
// for 2^32 entries), while here every length is checked against the bytes
// left first.
func decodeMsgpack(data []byte) (any, error) {
	d := mpDecoder{b: data}
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	if d.i != len(d.b) {
		return nil, fmt.Errorf("msgpack: %d bytes after the value", len(d.b)-d.i)
	}
	return v, nil
}

type mpDecoder struct {
	b []byte
	i int
}

func (d *mpDecoder) take(n int) ([]byte, error) {
	if n < 0 || n > len(d.b)-d.i {
		return nil, errMsgpackShort
	}
	p := d.b[d.i : d.i+n]
	d.i += n
	return p, nil
}

// uint reads a big-endian unsigned integer of size bytes (1, 2, 4 or 8).
func (d *mpDecoder) uint(size int) (uint64, error) {
	p, err := d.take(size)
	if err != nil {
		return 0, err
	}
	switch size {
	case 1:
		return uint64(p[0]), nil
	case 2:
		return uint64(binary.BigEndian.Uint16(p)), nil
	case 4:
		return uint64(binary.BigEndian.Uint32(p)), nil
	}
	return binary.BigEndian.Uint64(p), nil
}

// length reads a length of size bytes, no more than the bytes left
// divided by per (the least bytes one element takes).
func (d *mpDecoder) length(size, per int) (int, error) {
	n, err := d.uint(size)
	if err != nil {
		return 0, err
	}
	if n > uint64((len(d.b)-d.i)/per) {
		return 0, fmt.Errorf("msgpack: length %d exceeds the %d bytes left", n, len(d.b)-d.i)
	}
	return int(n), nil
}

func (d *mpDecoder) value(depth int) (any, error) {
	p, err := d.take(1)
	if err != nil {
		return nil, err
	}
	c := p[0]
	switch {
	case c <= 0x7f:
		return int64(c), nil
	case c >= 0xe0:
		return int64(int8(c)), nil
	case c&0xe0 == 0xa0:
		return d.str(int(c & 0x1f))
	case c&0xf0 == 0x90:
		return d.array(int(c&0x0f), depth)
	case c&0xf0 == 0x80:
		return d.mapping(int(c&0x0f), depth)
	}
	switch c {
	case 0xc0:
		return nil, nil
	case 0xc2:
		return false, nil
	case 0xc3:
		return true, nil
	case 0xcc, 0xcd, 0xce, 0xcf: // uint 8, 16, 32, 64
		u, err := d.uint(1 << (c - 0xcc))
		if err != nil {
			return nil, err
		}
		if u > math.MaxInt64 {
			return u, nil
		}
		return int64(u), nil
	case 0xd0, 0xd1, 0xd2, 0xd3: // int 8, 16, 32, 64
		size := 1 << (c - 0xd0)
		u, err := d.uint(size)
		if err != nil {
			return nil, err
		}
		shift := 64 - 8*size // sign-extend
		return int64(u<<shift) >> shift, nil
	case 0xca:
		u, err := d.uint(4)
		if err != nil {
			return nil, err
		}
		return float64(math.Float32frombits(uint32(u))), nil
	case 0xcb:
		u, err := d.uint(8)
		if err != nil {
			return nil, err
		}
		return math.Float64frombits(u), nil
	case 0xd9, 0xda, 0xdb: // str 8, 16, 32
		n, err := d.length(1<<(c-0xd9), 1)
		if err != nil {
			return nil, err
		}
		return d.str(n)
	case 0xc4, 0xc5, 0xc6: // bin 8, 16, 32
		n, err := d.length(1<<(c-0xc4), 1)
		if err != nil {
			return nil, err
		}
		b, err := d.take(n)
		if err != nil {
			return nil, err
		}
		out := make([]byte, n) // empty, not nil: a bin of length 0
		copy(out, b)
		return out, nil
	case 0xdc, 0xdd: // array 16, 32
		n, err := d.length(2<<(c-0xdc), 1)
		if err != nil {
			return nil, err
		}
		return d.array(n, depth)
	case 0xde, 0xdf: // map 16, 32
		n, err := d.length(2<<(c-0xde), 2)
		if err != nil {
			return nil, err
		}
		return d.mapping(n, depth)
	}
	return nil, fmt.Errorf("msgpack: unsupported type byte 0x%02x at offset %d", c, d.i-1)
}

func (d *mpDecoder) str(n int) (any, error) {
	b, err := d.take(n)
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("msgpack: string at offset %d is not valid UTF-8", d.i-n)
	}
	return string(b), nil
}

func (d *mpDecoder) array(n, depth int) (any, error) {
	if depth >= maxMsgpackDepth {
		return nil, fmt.Errorf("msgpack: nested deeper than %d", maxMsgpackDepth)
	}
	if n > len(d.b)-d.i {
		return nil, errMsgpackShort
	}
	out := make([]any, n)
	for i := range out {
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (d *mpDecoder) mapping(n, depth int) (any, error) {
	if depth >= maxMsgpackDepth {
		return nil, fmt.Errorf("msgpack: nested deeper than %d", maxMsgpackDepth)
	}
	if 2*n > len(d.b)-d.i {
		return nil, errMsgpackShort
	}
	out := make(map[string]any, n)
	for range n {
		k, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		ks, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("msgpack: map key is %T, want a string", k)
		}
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		out[ks] = v
	}
	return out, nil
}

package index

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/altimeter/altimeter/sdk/sample"
)

// An event's traits are packed into one column of its row (event.traits,
// schema version 2): a row per trait with its indexes cost an event about
// 40 B-tree inserts, the packed form one. The form:
//
//	packed  = "" (no traits) | 0x01 trait*
//	trait   = uvarint(len(name)) name type value
//	type    = one byte, sample.TraitType (1 text, 2 int, 3 float, 4 datetime)
//	value   = uvarint(len) bytes (text) | varint (int) |
//	          8 bytes little-endian IEEE 754 bits (float) |
//	          varint Unix nanoseconds (datetime)
//
// The traits are sorted by name (byte order, as SQLite's BINARY collation)
// with one trait per name, the last one given (as the trait table's
// primary key kept it). A float NaN reads back as 0 and compares to
// nothing: the trait table stored it as NULL.
//
// Trait conditions are evaluated on the packed form while the rows the
// other conditions (type, time, project, message_id) select are read in
// order (traitMatcher), so no per-trait index is written.

// packedFormat is the first byte of a non-empty packed form.
const packedFormat = 1

// errPacked is what decoding a damaged packed form returns.
var errPacked = errors.New("damaged packed traits")

// packer packs the traits of events (appendPacked). Consecutive events
// mostly carry the same names in the same order (those of one event
// definition): it keeps the name order of the last call and reuses it
// when the names are those.
type packer struct {
	names []string // of the last call, in the order given
	order []int    // their indexes sorted by name (stable)
}

// appendPacked appends the packed form of trs to dst.
func (pk *packer) appendPacked(dst []byte, trs []sample.Trait) []byte {
	if len(trs) == 0 {
		return dst
	}
	if !pk.same(trs) {
		pk.names, pk.order = pk.names[:0], pk.order[:0]
		for i := range trs {
			pk.names = append(pk.names, trs[i].Name)
			pk.order = append(pk.order, i)
		}
		slices.SortStableFunc(pk.order, func(a, b int) int { return strings.Compare(trs[a].Name, trs[b].Name) })
	}
	order := pk.order
	dst = append(dst, packedFormat)
	for k, i := range order {
		if k+1 < len(order) && trs[order[k+1]].Name == trs[i].Name {
			continue // a later trait of the same name wins
		}
		tr := &trs[i]
		dst = binary.AppendUvarint(dst, uint64(len(tr.Name)))
		dst = append(dst, tr.Name...)
		dst = append(dst, byte(tr.Type))
		switch tr.Type {
		case sample.TraitText:
			dst = binary.AppendUvarint(dst, uint64(len(tr.Text)))
			dst = append(dst, tr.Text...)
		case sample.TraitInt:
			dst = binary.AppendVarint(dst, tr.Int)
		case sample.TraitFloat:
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(tr.Float))
		case sample.TraitDatetime:
			dst = binary.AppendVarint(dst, tr.Datetime.UnixNano())
		}
	}
	return dst
}

// same reports whether trs has the names of the last call, in its order.
func (pk *packer) same(trs []sample.Trait) bool {
	if len(trs) != len(pk.names) {
		return false
	}
	for i := range trs {
		if trs[i].Name != pk.names[i] {
			return false
		}
	}
	return true
}

// packedTrait is one trait of a packed form, its name and text still
// pointing into it.
type packedTrait struct {
	name []byte
	typ  sample.TraitType
	text []byte
	num  int64   // int, or datetime in Unix nanoseconds
	flt  float64 // float
}

// trait returns it as a sample.Trait (copying the strings).
func (p *packedTrait) trait() sample.Trait {
	tr := sample.Trait{Name: string(p.name), Type: p.typ}
	switch p.typ {
	case sample.TraitText:
		tr.Text = string(p.text)
	case sample.TraitInt:
		tr.Int = p.num
	case sample.TraitFloat:
		if !math.IsNaN(p.flt) {
			tr.Float = p.flt
		}
	case sample.TraitDatetime:
		tr.Datetime = fromNanos(p.num)
	}
	return tr
}

// packedReader walks a packed form trait by trait.
type packedReader struct {
	b   []byte
	err error
}

func newPackedReader(b []byte) packedReader {
	switch {
	case len(b) == 0:
		return packedReader{}
	case b[0] != packedFormat:
		return packedReader{err: fmt.Errorf("%w: format %d", errPacked, b[0])}
	}
	return packedReader{b: b[1:]}
}

// next decodes the next trait into p; false at the end or on an error
// (then err is set).
func (r *packedReader) next(p *packedTrait) bool {
	if len(r.b) == 0 || r.err != nil {
		return false
	}
	var ok bool
	if p.name, ok = r.bytes(); !ok {
		return false
	}
	if len(r.b) == 0 {
		return r.fail()
	}
	p.typ = sample.TraitType(r.b[0])
	r.b = r.b[1:]
	switch p.typ {
	case sample.TraitText:
		p.text, ok = r.bytes()
		return ok
	case sample.TraitInt, sample.TraitDatetime:
		v, n := binary.Varint(r.b)
		if n <= 0 {
			return r.fail()
		}
		p.num, r.b = v, r.b[n:]
		return true
	case sample.TraitFloat:
		if len(r.b) < 8 {
			return r.fail()
		}
		p.flt, r.b = math.Float64frombits(binary.LittleEndian.Uint64(r.b)), r.b[8:]
		return true
	}
	r.err = fmt.Errorf("%w: trait type %d", errPacked, p.typ)
	return false
}

func (r *packedReader) bytes() ([]byte, bool) {
	l, n := binary.Uvarint(r.b)
	if n <= 0 || l > uint64(len(r.b)-n) {
		return nil, r.fail()
	}
	v := r.b[n : n+int(l)]
	r.b = r.b[n+int(l):]
	return v, true
}

func (r *packedReader) fail() bool {
	r.err = errPacked
	return false
}

// unpackTraits decodes a packed form (nil when it holds no trait).
func unpackTraits(b []byte) ([]sample.Trait, error) {
	var out []sample.Trait
	r := newPackedReader(b)
	var p packedTrait
	for r.next(&p) {
		out = append(out, p.trait())
	}
	return out, r.err
}

// traitMatcher is the trait conditions of a listing, parsed once.
type traitMatcher []traitCond

type traitCond struct {
	name string
	typ  sample.TraitType
	op   string // =, <>, <, <=, >, >= (traitOps)
	text string
	num  int64 // int, or datetime in Unix nanoseconds
	flt  float64
}

// newTraitMatcher parses the conditions of tfs.
func newTraitMatcher(tfs []TraitFilter) (traitMatcher, error) {
	m := make(traitMatcher, 0, len(tfs))
	for _, tf := range tfs {
		c, err := parseTraitCond(tf)
		if err != nil {
			return nil, err
		}
		m = append(m, c)
	}
	return m, nil
}

// match reports whether the event of packed form b meets every condition:
// it has a trait of the condition's name and type whose value compares so.
func (m traitMatcher) match(b []byte) (bool, error) {
	for i := range m {
		ok, err := m[i].match(b)
		if !ok || err != nil {
			return false, err
		}
	}
	return true, nil
}

// needle is a byte string that the packed form of every event meeting c
// contains: the trait's name and type, and for an equality on a text,
// integer or datetime its value too (a float's bytes are not its only
// form: -0 equals 0). SQLite's instr on it drops most other rows before
// they are read out (Events).
func (c *traitCond) needle() []byte {
	b := binary.AppendUvarint(nil, uint64(len(c.name)))
	b = append(b, c.name...)
	b = append(b, byte(c.typ))
	if c.op != "=" {
		return b
	}
	switch c.typ {
	case sample.TraitText:
		b = binary.AppendUvarint(b, uint64(len(c.text)))
		b = append(b, c.text...)
	case sample.TraitInt, sample.TraitDatetime:
		b = binary.AppendVarint(b, c.num)
	}
	return b
}

func (c *traitCond) match(b []byte) (bool, error) {
	r := newPackedReader(b)
	var p packedTrait
	for r.next(&p) {
		if n := strings.Compare(string(p.name), c.name); n < 0 {
			continue
		} else if n > 0 {
			return false, nil // sorted by name: c.name is not there
		}
		if p.typ != c.typ {
			return false, nil
		}
		var order int
		switch p.typ {
		case sample.TraitText:
			order = strings.Compare(string(p.text), c.text)
		case sample.TraitInt, sample.TraitDatetime:
			order = cmp.Compare(p.num, c.num)
		case sample.TraitFloat:
			if math.IsNaN(p.flt) || math.IsNaN(c.flt) {
				return false, nil // NULL in SQL: no comparison holds
			}
			order = cmp.Compare(p.flt, c.flt) // NaN excluded above
		}
		return holds(c.op, order), nil
	}
	return false, r.err
}

// holds reports whether op holds for a three-way comparison result.
func holds(op string, cmp int) bool {
	switch op {
	case "=":
		return cmp == 0
	case "<>":
		return cmp != 0
	case "<":
		return cmp < 0
	case "<=":
		return cmp <= 0
	case ">":
		return cmp > 0
	case ">=":
		return cmp >= 0
	}
	return false
}

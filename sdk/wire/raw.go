package wire

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"time"
	"unicode/utf8"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	pb "github.com/altimeter/altimeter/sdk/proto/altimeter/v1"
	"github.com/altimeter/altimeter/sdk/sample"
)

// The helpers of a transformer that works on batches in their encoded form
// (transformer.RawTransformer): BatchView reads a batch as Decoder.Samples
// does, without decoding it; SampleView reads one sample's scalar fields
// without allocating; AppendSample and AppendDerived write sample records.

// SampleView is one altimeter.v1.Sample record of a batch, with its scalar
// fields read: Sample holds what Decoder gives for the record, but for the
// metadata (nil; Meta and LoadMeta look keys up). Its strings alias the
// batch's bytes: they are valid only while those bytes are, which for a
// RawTransformer is the TransformRaw call. A string kept longer (a cache
// key, a logged value a logger keeps) must be cloned (strings.Clone).
type SampleView struct {
	Sample sample.Sample
	rec    []byte
	// fieldBytes[n] is the size of the records (tag included) of known
	// field n; skipped is that of the fields the decoder skips (unknown
	// numbers, known numbers with another wire type).
	fieldBytes [15]int32
	skipped    int32
	// fieldAt[n] is where the record of scalar field n starts, when each
	// occurs at most once (not dup).
	fieldAt [15]int32
	dup     bool
	// The metadata records lie in rec[metaStart:metaEnd] (maybe among
	// others); nvals counts the values.
	metaStart, metaEnd int32
	nvals              int32
}

// Record is the sample's encoding (the value of its Batch field 1).
func (v *SampleView) Record() []byte { return v.rec }

// alias is a string over b's bytes, without a copy.
func alias(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// field is the next field record of rec at off, which must be well formed
// (parse checked it): its number and type, where its value starts (for a
// bytes field, its content, after the length) and where the record ends.
// One-byte tags and lengths, the usual ones, are read inline.
func field(rec []byte, off int) (num protowire.Number, typ protowire.Type, val, end int) {
	if t := rec[off]; t < 0x80 {
		num, typ, val = protowire.Number(t>>3), protowire.Type(t&7), off+1
	} else {
		var n int
		num, typ, n = protowire.ConsumeTag(rec[off:])
		val = off + n
	}
	if typ != protowire.BytesType {
		return num, typ, val, val + protowire.ConsumeFieldValue(num, typ, rec[val:])
	}
	if l := rec[val]; l < 0x80 {
		return num, typ, val + 1, val + 1 + int(l)
	}
	l, n := protowire.ConsumeVarint(rec[val:])
	return num, typ, val + n, val + n + int(l)
}

// parse reads rec, refusing what Decoder refuses (the error wraps
// ErrMalformed).
func (v *SampleView) parse(rec []byte) error {
	*v = SampleView{rec: rec, metaStart: -1}
	s := &v.Sample
	var high uint64 // the strings' bytes ORed: ASCII unless a high bit is set
	for off := 0; off < len(rec); {
		start := off
		var (
			num protowire.Number
			typ protowire.Type
		)
		if t := rec[off]; t < 0x80 && t >= 8 {
			num, typ = protowire.Number(t>>3), protowire.Type(t&7)
			off++
		} else {
			var n int
			num, typ, n = consumeTag(rec[off:])
			if n < 0 {
				return malformed(fmt.Sprintf("sample at byte %d", off), protowire.ParseError(n))
			}
			off += n
		}
		if want, known := sampleFieldType(num); !known || want != typ {
			m := skip(num, typ, rec[off:])
			if m < 0 {
				return malformed(fmt.Sprintf("sample at byte %d", off), protowire.ParseError(m))
			}
			off += m
			v.skipped += int32(off - start)
			continue
		}
		switch typ {
		case protowire.BytesType:
			var b []byte
			if off < len(rec) && rec[off] < 0x80 && int(rec[off]) < len(rec)-off {
				b = rec[off+1 : off+1+int(rec[off])]
				off += 1 + len(b)
			} else {
				var m int
				if b, m = protowire.ConsumeBytes(rec[off:]); m < 0 {
					return malformed(fmt.Sprintf("sample at byte %d", off), protowire.ParseError(m))
				}
				off += m
			}
			high |= orBytes(b)
			switch num {
			case 1, 3, 5, 6, 7, 9:
				*stringField(s, num) = alias(b)
			case 10:
				s.MessageID = alias(b)
			case 12, 13:
				if v.metaStart < 0 {
					v.metaStart = int32(start)
				}
				v.metaEnd = int32(off)
				if num == 13 {
					v.nvals++
				}
			case 14:
				s.Signature = alias(b)
			}
		case protowire.VarintType:
			x, m := protowire.ConsumeVarint(rec[off:])
			if m < 0 {
				return malformed(fmt.Sprintf("sample at byte %d", off), protowire.ParseError(m))
			}
			off += m
			switch num {
			case 2:
				s.Type = sample.Type(pb.SampleType(int32(x)))
			case 8:
				s.Timestamp = fromUnixNano(int64(x))
			case 11:
				s.MonotonicTime = time.Duration(int64(x))
			}
		case protowire.Fixed64Type:
			x, m := protowire.ConsumeFixed64(rec[off:])
			if m < 0 {
				return malformed(fmt.Sprintf("sample at byte %d", off), protowire.ParseError(m))
			}
			off += m
			s.Volume = math.Float64frombits(x)
		}
		if v.fieldBytes[num] != 0 && num != 12 && num != 13 {
			v.dup = true
		}
		v.fieldBytes[num] += int32(off - start)
		v.fieldAt[num] = int32(start)
	}
	if high&0x8080808080808080 != 0 {
		return v.checkUTF8()
	}
	return nil
}

// checkUTF8 finds the first string of a parsed record that is not valid
// UTF-8.
func (v *SampleView) checkUTF8() error {
	rec := v.rec
	for off := 0; off < len(rec); {
		num, typ, val, end := field(rec, off)
		if want, known := sampleFieldType(num); known && want == typ && typ == protowire.BytesType && !utf8.Valid(rec[val:end]) {
			return malformed(fmt.Sprintf("sample field %d", num), errUTF8)
		}
		off = end
	}
	return nil
}

// ASCII reports whether b is all ASCII (so valid UTF-8), eight bytes at a
// time: the host's structural check of a batch uses it too.
func ASCII(b []byte) bool { return orBytes(b)&0x8080808080808080 == 0 }

// orBytes is the bytes of b ORed together, eight at a time: a string is
// ASCII when no high bit is set.
func orBytes(b []byte) uint64 {
	var or uint64
	for len(b) >= 8 {
		or |= binary.LittleEndian.Uint64(b)
		b = b[8:]
	}
	for _, c := range b {
		or |= uint64(c)
	}
	return or
}

// Meta returns the value the decoded sample's metadata map has for key:
// that of the last key entry equal to key that has a value entry at its
// position (Decoder pairs the nth key with the nth value, and the last of
// equal keys wins). It scans the metadata entries and does not allocate;
// the string aliases the batch's bytes, as Sample's do.
func (v *SampleView) Meta(key string) (string, bool) {
	if v.nvals == 0 || v.fieldBytes[12] == 0 {
		return "", false
	}
	rec := v.rec[:v.metaEnd]
	// The last matching key that has a value: its index. The value at an
	// index is noted when it comes after its key, as the encoder writes
	// them (key, value, key, value...); otherwise a second pass finds it.
	want, i, j := -1, 0, 0
	var cand string
	candAt := -1
	for off := int(v.metaStart); off < len(rec); {
		num, typ, val, end := field(rec, off)
		if typ == protowire.BytesType {
			switch num {
			case 12:
				if i < int(v.nvals) && end-val == len(key) && alias(rec[val:end]) == key {
					want = i
				}
				i++
			case 13:
				if j == want {
					cand, candAt = alias(rec[val:end]), j
				}
				j++
			}
		}
		off = end
	}
	if want < 0 {
		return "", false
	}
	if candAt == want {
		return cand, true
	}
	i = 0
	for off := int(v.metaStart); off < len(rec); {
		num, typ, val, end := field(rec, off)
		if num == 13 && typ == protowire.BytesType {
			if i == want {
				return alias(rec[val:end]), true
			}
			i++
		}
		off = end
	}
	return "", false // not reached: want < nvals
}

// LoadMeta sets Sample.Metadata to m, made to hold the given keys that the
// sample's metadata has (Meta) and no other key (reusing m from sample to
// sample with the same keys costs no clearing), or to nil when keys is
// empty: what an expression that reads only those keys needs, without
// building the whole map. The values alias the batch's bytes.
func (v *SampleView) LoadMeta(m map[string]string, keys []string) {
	if len(keys) == 0 {
		v.Sample.Metadata = nil
		return
	}
	found := 0
	for _, k := range keys {
		if x, ok := v.Meta(k); ok {
			m[k] = x
			found++
		} else {
			delete(m, k)
		}
	}
	if len(m) > found { // m held other keys too
		clear(m)
		for _, k := range keys {
			if x, ok := v.Meta(k); ok {
				m[k] = x
			}
		}
	}
	v.Sample.Metadata = m
}

// BatchView is an encoded altimeter.v1.Batch read as Decoder.Samples reads
// it, without decoding it: its sample records viewed, in order, and its
// events as the Batch field 2 records they came as (checked as the decoder
// checks them); notifications and unknown fields are dropped. Reuse one
// across batches: Parse keeps its storage. Not safe for concurrent use.
type BatchView struct {
	Samples []SampleView
	// Events are the batch's events as Batch field 2 records, for the
	// output: a transformer passes them on untouched.
	Events []byte
	event  pb.Event
}

// Parse reads data, refusing what Decoder.Samples refuses (the error wraps
// ErrMalformed; Samples and Events are then empty: a batch is refused
// whole). The views alias data.
func (b *BatchView) Parse(data []byte) error {
	b.Samples, b.Events = b.Samples[:0], b.Events[:0]
	if err := b.parse(data); err != nil {
		b.Samples, b.Events = b.Samples[:0], b.Events[:0]
		return err
	}
	return nil
}

func (b *BatchView) parse(data []byte) error {
	for off := 0; off < len(data); {
		num, typ, n := consumeTag(data[off:])
		if n < 0 {
			return malformed(fmt.Sprintf("batch at byte %d", off), protowire.ParseError(n))
		}
		start := off
		off += n
		if typ != protowire.BytesType || num < 1 || num > 3 {
			m := skip(num, typ, data[off:])
			if m < 0 {
				return malformed(fmt.Sprintf("batch at byte %d", off), protowire.ParseError(m))
			}
			off += m
			continue
		}
		v, m := protowire.ConsumeBytes(data[off:])
		if m < 0 {
			return malformed(fmt.Sprintf("batch at byte %d", off), protowire.ParseError(m))
		}
		off += m
		switch num {
		case 1:
			// Grown without a zero value appended: parse sets every field.
			b.Samples = slices.Grow(b.Samples, 1)[:len(b.Samples)+1]
			if err := b.Samples[len(b.Samples)-1].parse(v); err != nil {
				return fmt.Errorf("sample %d: %w", len(b.Samples)-1, err)
			}
		case 2:
			b.event.Reset()
			if err := proto.Unmarshal(v, &b.event); err != nil {
				return malformed("event", err)
			}
			b.Events = append(b.Events, data[start:off]...)
		}
	}
	return nil
}

// AppendSample appends v's sample, as a Batch field 1 record, unchanged:
// its record as it came, less the fields Decoder skips.
func AppendSample(dst []byte, v *SampleView) []byte {
	if v.skipped == 0 && !v.lonelyKeys() {
		dst = protowire.AppendTag(dst, 1, protowire.BytesType)
		return protowire.AppendBytes(dst, v.rec)
	}
	return appendKept(dst, v, 0, v.keptSize(0))
}

// lonelyKeys reports whether the record has metadata keys and no value:
// the decoded sample then has an empty map, which the encoder writes as no
// entries, so the keys are left out too.
func (v *SampleView) lonelyKeys() bool { return v.nvals == 0 && v.fieldBytes[12] != 0 }

// keptSize is the size of the record appendKept writes with changed left
// out.
func (v *SampleView) keptSize(changed uint16) int {
	n := len(v.rec) - int(v.skipped)
	for num, bit := range changeBit {
		if bit != 0 && changed&bit != 0 {
			n -= int(v.fieldBytes[num])
		}
	}
	if v.lonelyKeys() {
		n -= int(v.fieldBytes[12])
	}
	return n
}

// The scalar fields AppendDerived compares, as bits of a mask.
const (
	chName uint16 = 1 << iota
	chType
	chUnit
	chVolume
	chResourceID
	chProjectID
	chUserID
	chTimestamp
	chSource
	chMessageID
	chMonotonicTime
	chSignature
)

// changeBit maps a field number to its bit (metadata fields have none:
// they are always kept).
var changeBit = [15]uint16{1: chName, 2: chType, 3: chUnit, 4: chVolume, 5: chResourceID, 6: chProjectID,
	7: chUserID, 8: chTimestamp, 9: chSource, 10: chMessageID, 11: chMonotonicTime, 14: chSignature}

// AppendDerived appends, as a Batch field 1 record, the sample out made
// from v's: out's scalar fields with v's metadata (out.Metadata is not
// read). The fields out has equal to v's sample are copied from v's record
// as they are; the others are written from out. It refuses, as the
// encoder does, a string that is not valid UTF-8.
func AppendDerived(dst []byte, v *SampleView, out *sample.Sample) ([]byte, error) {
	in := &v.Sample
	var changed uint16
	str := func(bit uint16, a, b string) {
		if a != b {
			changed |= bit
		}
	}
	str(chName, out.Name, in.Name)
	str(chUnit, out.Unit, in.Unit)
	str(chResourceID, out.ResourceID, in.ResourceID)
	str(chProjectID, out.ProjectID, in.ProjectID)
	str(chUserID, out.UserID, in.UserID)
	str(chSource, out.Source, in.Source)
	str(chMessageID, out.MessageID, in.MessageID)
	str(chSignature, out.Signature, in.Signature)
	if out.Type != in.Type {
		changed |= chType
	}
	if math.Float64bits(out.Volume) != math.Float64bits(in.Volume) {
		changed |= chVolume
	}
	if unixNano(out.Timestamp) != unixNano(in.Timestamp) {
		changed |= chTimestamp
	}
	if out.MonotonicTime != in.MonotonicTime {
		changed |= chMonotonicTime
	}
	if changed == 0 {
		return AppendSample(dst, v), nil
	}
	// The new fields: out's values of the changed ones, as the encoder
	// writes them (zero values left out).
	var fresh sample.Sample
	for num, bit := range changeBit {
		if bit == 0 || changed&bit == 0 {
			continue
		}
		switch num {
		case 1, 3, 5, 6, 7, 9:
			*stringField(&fresh, protowire.Number(num)) = *stringField(out, protowire.Number(num))
		case 2:
			fresh.Type = out.Type
		case 4:
			fresh.Volume = out.Volume
		case 8:
			fresh.Timestamp = out.Timestamp
		case 10:
			fresh.MessageID = out.MessageID
		case 11:
			fresh.MonotonicTime = out.MonotonicTime
		case 14:
			fresh.Signature = out.Signature
		}
	}
	if err := checkUTF8(&fresh, nil); err != nil {
		return dst, err
	}
	size := v.keptSize(changed) + sampleSize(&fresh, nil)
	dst = appendKept(dst, v, changed, size)
	// appendSample writes a header of its own: write the fields only.
	return appendSampleFields(dst, &fresh, nil), nil
}

// appendKept appends a Batch field 1 header for a record of size bytes and
// then v's field records but those changed (a mask of change bits), those
// Decoder skips, and lonely metadata keys.
func appendKept(dst []byte, v *SampleView, changed uint16, size int) []byte {
	dst = protowire.AppendTag(dst, 1, protowire.BytesType)
	dst = protowire.AppendVarint(dst, uint64(size))
	rec := v.rec
	lonely := v.lonelyKeys()
	if !v.dup && v.skipped == 0 && !lonely {
		// Each changed field is one record whose place parse noted: copy
		// what lies between them, without walking the record.
		var cut [12][2]int32
		n := 0
		for num, bit := range changeBit {
			if bit == 0 || changed&bit == 0 || v.fieldBytes[num] == 0 {
				continue
			}
			c := [2]int32{v.fieldAt[num], v.fieldAt[num] + v.fieldBytes[num]}
			j := n
			for ; j > 0 && cut[j-1][0] > c[0]; j-- {
				cut[j] = cut[j-1]
			}
			cut[j] = c
			n++
		}
		from := int32(0)
		for _, c := range cut[:n] {
			dst = append(dst, rec[from:c[0]]...)
			from = c[1]
		}
		return append(dst, rec[from:]...)
	}
	run := 0 // where the run of kept records being gathered starts
	for off := 0; off < len(rec); {
		num, typ, _, end := field(rec, off)
		if want, known := sampleFieldType(num); !known || want != typ || changed&changeBit[num] != 0 || (lonely && num == 12) {
			dst = append(dst, rec[run:off]...)
			run = end
		}
		off = end
	}
	return append(dst, rec[run:]...)
}

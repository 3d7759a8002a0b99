package influx

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/altimeter/altimeter/internal/intern"
	"github.com/altimeter/altimeter/sdk/sample"
)

// The tags that fill sample fields rather than metadata.
const (
	TagResourceID = "resource_id"
	TagProjectID  = "project_id"
	TagUserID     = "user_id"
	TagSource     = "source"
	TagUnit       = "unit"
	TagType       = "type"
)

// ValueField is the field name that maps to the bare measurement name.
const ValueField = "value"

// IsReservedTag reports whether tag k fills a sample field.
func IsReservedTag(k string) bool {
	switch k {
	case TagResourceID, TagProjectID, TagUserID, TagSource, TagUnit, TagType:
		return true
	}
	return false
}

// reservedTag returns k as the constant of the reserved tag it is, or "".
func reservedTag(k []byte) string {
	switch string(k) {
	case TagResourceID:
		return TagResourceID
	case TagProjectID:
		return TagProjectID
	case TagUserID:
		return TagUserID
	case TagSource:
		return TagSource
	case TagUnit:
		return TagUnit
	case TagType:
		return TagType
	}
	return ""
}

// Options tune Decode. The zero value reads nanosecond timestamps and stamps
// lines without one with time.Now.
type Options struct {
	// Precision is the unit of timestamps: time.Nanosecond (also for zero),
	// time.Microsecond, time.Millisecond or time.Second.
	Precision time.Duration
	// Now stamps lines that carry no timestamp; time.Now when nil.
	Now func() time.Time
}

// ParsePrecision parses "ns", "us" (or "µs"), "ms" or "s".
func ParsePrecision(s string) (time.Duration, error) {
	switch s {
	case "", "ns":
		return time.Nanosecond, nil
	case "us", "µs":
		return time.Microsecond, nil
	case "ms":
		return time.Millisecond, nil
	case "s":
		return time.Second, nil
	}
	return 0, fmt.Errorf("unknown precision %q (want ns, us, ms or s)", s)
}

func lpPrecision(d time.Duration) (lineprotocol.Precision, error) {
	switch d {
	case 0, time.Nanosecond:
		return lineprotocol.Nanosecond, nil
	case time.Microsecond:
		return lineprotocol.Microsecond, nil
	case time.Millisecond:
		return lineprotocol.Millisecond, nil
	case time.Second:
		return lineprotocol.Second, nil
	}
	return 0, fmt.Errorf("unsupported precision %s", d)
}

// ErrPrecision is returned (as the only error) when Options.Precision is not
// one of the four supported units.
var ErrPrecision = errors.New("unsupported timestamp precision")

// LineError is a line that could not be decoded and was skipped. Entry is
// the 1-based index of the entry (non-empty, non-comment line) in the input.
type LineError struct {
	Entry int
	Err   error
}

func (e *LineError) Error() string { return fmt.Sprintf("entry %d: %v", e.Entry, e.Err) }

func (e *LineError) Unwrap() error { return e.Err }

// Decode parses line protocol into samples. Malformed lines are skipped,
// each reported by one *LineError; the good lines around them are kept.
// Decode never panics on any input.
//
// The samples of one call share what repeats: equal strings are one
// string, and the lines of one series (the same tags as the line before)
// share one Metadata map, as do the samples of one line. The samples
// alias nothing of data. Treat their Metadata as read-only: copy it
// before changing it.
func Decode(data []byte, opts Options) ([]sample.Sample, []error) {
	return AppendDecode(nil, data, opts)
}

// AppendDecode is Decode appending to dst, to reuse its storage.
func AppendDecode(dst []sample.Sample, data []byte, opts Options) ([]sample.Sample, []error) {
	prec, err := lpPrecision(opts.Precision)
	if err != nil {
		return dst, []error{fmt.Errorf("%w: %v", ErrPrecision, err)}
	}
	nowFn := opts.Now
	if nowFn == nil {
		nowFn = time.Now
	}
	var (
		now   time.Time
		errs  []error
		entry int
		st    = decodeState{strs: intern.New(maxInterned, maxInternedLen)}
	)
	dec := lineprotocol.NewDecoderWithBytes(data)
	for dec.Next() {
		entry++
		start := len(dst)
		if now.IsZero() {
			now = nowFn()
		}
		dst, err = st.decodeLine(dec, dst, prec, now)
		if err != nil {
			clear(dst[start:])
			dst = dst[:start]
			errs = append(errs, &LineError{Entry: entry, Err: err})
		}
	}
	return dst, errs
}

// maxInterned and maxInternedLen bound the strings one decode call keeps
// to share.
const (
	maxInterned    = 4096
	maxInternedLen = 256
)

// decodeState is what one decode call keeps from line to line to share
// strings and metadata between the samples of repeated series.
type decodeState struct {
	strs intern.Table // interned strings, at most maxInterned
	name string       // the previous line's measurement
	// tags are the previous line's tags; base and meta what they make,
	// valid when base and meta are those of tags (not of a line that
	// failed halfway). Every tag kept has a valid type value.
	tags    []tag
	base    sample.Sample
	meta    map[string]string
	valid   bool
	scratch []byte
}

func (st *decodeState) decodeLine(dec *lineprotocol.Decoder, dst []sample.Sample, prec lineprotocol.Precision, now time.Time) ([]sample.Sample, error) {
	m, err := dec.Measurement()
	if err != nil {
		return dst, err
	}
	if string(m) != st.name {
		st.name = st.strs.Bytes(m)
	}
	name := st.name
	n, same := 0, st.valid
	for {
		k, v, err := dec.NextTag()
		if err != nil {
			return dst, err
		}
		if k == nil {
			break
		}
		if same && n < len(st.tags) && string(k) == st.tags[n].k && string(v) == st.tags[n].v {
			n++
			continue
		}
		same, st.valid = false, false
		if string(k) == TagType {
			if _, err := parseType(v); err != nil {
				return dst, fmt.Errorf("tag type: %w", err)
			}
		}
		key := reservedTag(k)
		if key == "" {
			key = st.strs.Bytes(k)
		}
		st.tags = append(st.tags[:n], tag{key, st.strs.Bytes(v)})
		n++
	}
	if !same || n != len(st.tags) {
		st.tags = st.tags[:n]
		st.setTags()
	}
	start := len(dst)
	for {
		k, v, err := dec.NextField()
		if err != nil {
			return dst, err
		}
		if k == nil {
			break
		}
		var vol float64
		switch v.Kind() {
		case lineprotocol.Int:
			vol = float64(v.IntV())
		case lineprotocol.Uint:
			vol = float64(v.UintV())
		case lineprotocol.Float:
			vol = v.FloatV()
		case lineprotocol.Bool:
			if v.BoolV() {
				vol = 1
			}
		default:
			continue // strings carry no volume
		}
		s := st.base
		if string(k) == ValueField {
			s.Name = name
		} else {
			st.scratch = append(append(append(st.scratch[:0], name...), '.'), k...)
			s.Name = st.strs.Bytes(st.scratch)
		}
		s.Volume = vol
		dst = append(dst, s)
	}
	ts, err := dec.Time(prec, now)
	if err != nil {
		return dst, err
	}
	ts = ts.UTC()
	for i := start; i < len(dst); i++ {
		dst[i].Timestamp = ts
	}
	return dst, nil
}

// setTags makes base and meta of tags.
func (st *decodeState) setTags() {
	st.base = sample.Sample{Type: sample.Gauge}
	st.meta = nil
	for _, t := range st.tags {
		switch t.k {
		case TagResourceID:
			st.base.ResourceID = t.v
		case TagProjectID:
			st.base.ProjectID = t.v
		case TagUserID:
			st.base.UserID = t.v
		case TagSource:
			st.base.Source = t.v
		case TagUnit:
			st.base.Unit = t.v
		case TagType:
			st.base.Type, _ = parseType([]byte(t.v)) // checked when read
		default:
			if st.meta == nil {
				st.meta = make(map[string]string, len(st.tags))
			}
			st.meta[t.k] = t.v
		}
	}
	st.base.Metadata = st.meta
	st.valid = true
}

// parseType is sample.ParseType without converting v.
func parseType(v []byte) (sample.Type, error) {
	switch string(v) {
	case "gauge":
		return sample.Gauge, nil
	case "delta":
		return sample.Delta, nil
	case "cumulative":
		return sample.Cumulative, nil
	}
	return sample.ParseType(string(v))
}

// Encode appends s as one line of line protocol (ending in a newline) to
// dst. A sample that line protocol cannot carry (an empty or invalid name,
// a name starting with '#', a NaN or infinite volume, a timestamp outside
// the int64 nanosecond range) leaves dst unchanged; tags whose key or value
// cannot be written (empty, control characters, invalid UTF-8, a trailing
// backslash) and metadata keys that collide with the reserved tags are
// left out.
func Encode(dst []byte, s *sample.Sample) []byte {
	var e Encoder
	return e.Append(dst, s)
}

// Encoder is Encode with reusable scratch space, for hot loops. The zero
// value is ready; an Encoder must not be used concurrently.
type Encoder struct {
	meta []tag
}

type tag struct{ k, v string }

// Append is Encode. It writes what lineprotocol.Encoder writes for the same
// line (tags in key order, line protocol's escapes, the value as
// strconv's shortest 'g' form, the timestamp in nanoseconds when set), by
// hand: a string with nothing to escape is copied as is.
func (e *Encoder) Append(dst []byte, s *sample.Sample) []byte {
	if s.Name == "" || s.Name[0] == '#' || math.IsNaN(s.Volume) || math.IsInf(s.Volume, 0) {
		return dst
	}
	ts := s.Timestamp
	if !ts.IsZero() && (ts.Before(time.Unix(0, math.MinInt64)) || ts.After(time.Unix(0, math.MaxInt64))) {
		return dst
	}
	out, ok := appendKey(dst, s.Name, measurementEscapes)
	if !ok {
		return dst
	}
	meta := e.meta[:0]
	for k, v := range s.Metadata {
		if !IsReservedTag(k) {
			meta = append(meta, tag{k, v})
		}
	}
	if len(meta) > 1 {
		slices.SortFunc(meta, func(a, b tag) int { return strings.Compare(a.k, b.k) })
	}
	typ := ""
	if s.Type != sample.TypeUnspecified {
		typ = s.Type.String()
	}
	// The reserved tags in key order, merged with the metadata.
	reserved := [...]tag{
		{TagProjectID, s.ProjectID},
		{TagResourceID, s.ResourceID},
		{TagSource, s.Source},
		{TagType, typ},
		{TagUnit, s.Unit},
		{TagUserID, s.UserID},
	}
	m := 0
	for _, r := range reserved {
		for ; m < len(meta) && meta[m].k < r.k; m++ {
			out = appendTag(out, meta[m])
		}
		out = appendTag(out, r)
	}
	for ; m < len(meta); m++ {
		out = appendTag(out, meta[m])
	}
	out = append(out, " "+ValueField+"="...)
	out = strconv.AppendFloat(out, s.Volume, 'g', -1, 64)
	if !ts.IsZero() {
		out = append(out, ' ')
		out = strconv.AppendInt(out, ts.UnixNano(), 10)
	}
	clear(meta)
	e.meta = meta[:0]
	return append(out, '\n')
}

// The bytes line protocol escapes with a backslash, as bit sets over the
// bytes below 64 (all of them are): ' ' and ',' in a measurement, also '='
// in a tag key or value.
const (
	measurementEscapes uint64 = 1<<' ' | 1<<','
	tagEscapes         uint64 = measurementEscapes | 1<<'='
)

// appendTag appends ",k=v" to dst, or nothing when k or v cannot be
// written.
func appendTag(dst []byte, t tag) []byte {
	out, ok := appendKey(append(dst, ','), t.k, tagEscapes)
	if ok {
		out, ok = appendKey(append(out, '='), t.v, tagEscapes)
	}
	if !ok {
		return out[:len(dst)]
	}
	return out
}

// appendKey appends s to dst with a backslash before each byte in set, if
// line protocol can carry s as a measurement, key or tag value (non-empty
// UTF-8 without control characters or a trailing backslash; checked in
// the same pass); otherwise it appends nothing and reports false.
func appendKey(dst []byte, s string, set uint64) ([]byte, bool) {
	if s == "" || s[len(s)-1] == '\\' {
		return dst, false
	}
	esc, ascii := false, true
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20:
			return dst, false
		case c < 64:
			esc = esc || set&(1<<c) != 0
		case c >= 0x7f:
			if c == 0x7f {
				return dst, false
			}
			ascii = false
		}
	}
	if !ascii && !utf8.ValidString(s) {
		return dst, false
	}
	if !esc {
		return append(dst, s...), true
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 64 && set&(1<<c) != 0 {
			dst = append(dst, '\\')
		}
		dst = append(dst, s[i])
	}
	return dst, true
}

package influx

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/influxdata/line-protocol/v2/lineprotocol"

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
	)
	dec := lineprotocol.NewDecoderWithBytes(data)
	for dec.Next() {
		entry++
		start := len(dst)
		if now.IsZero() {
			now = nowFn()
		}
		dst, err = decodeLine(dec, dst, prec, now)
		if err != nil {
			clear(dst[start:])
			dst = dst[:start]
			errs = append(errs, &LineError{Entry: entry, Err: err})
		}
	}
	return dst, errs
}

func decodeLine(dec *lineprotocol.Decoder, dst []sample.Sample, prec lineprotocol.Precision, now time.Time) ([]sample.Sample, error) {
	m, err := dec.Measurement()
	if err != nil {
		return dst, err
	}
	name := string(m)
	base := sample.Sample{Type: sample.Gauge}
	var meta map[string]string
	for {
		k, v, err := dec.NextTag()
		if err != nil {
			return dst, err
		}
		if k == nil {
			break
		}
		switch string(k) {
		case TagResourceID:
			base.ResourceID = string(v)
		case TagProjectID:
			base.ProjectID = string(v)
		case TagUserID:
			base.UserID = string(v)
		case TagSource:
			base.Source = string(v)
		case TagUnit:
			base.Unit = string(v)
		case TagType:
			t, err := sample.ParseType(string(v))
			if err != nil {
				return dst, fmt.Errorf("tag type: %w", err)
			}
			base.Type = t
		default:
			if meta == nil {
				meta = make(map[string]string, 4)
			}
			meta[string(k)] = string(v)
		}
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
		s := base
		if string(k) == ValueField {
			s.Name = name
		} else {
			s.Name = name + "." + string(k)
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
		if meta != nil {
			if i == start {
				dst[i].Metadata = meta
			} else {
				dst[i].Metadata = maps.Clone(meta)
			}
		}
	}
	return dst, nil
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
	lp   lineprotocol.Encoder
	tags []tag
}

type tag struct{ k, v string }

// Append is Encode.
func (e *Encoder) Append(dst []byte, s *sample.Sample) []byte {
	if !validKey(s.Name) || s.Name[0] == '#' || math.IsNaN(s.Volume) || math.IsInf(s.Volume, 0) {
		return dst
	}
	val, _ := lineprotocol.FloatValue(s.Volume)
	tags := e.tags[:0]
	add := func(k, v string) {
		if validKey(v) {
			tags = append(tags, tag{k, v})
		}
	}
	add(TagResourceID, s.ResourceID)
	add(TagProjectID, s.ProjectID)
	add(TagUserID, s.UserID)
	add(TagSource, s.Source)
	add(TagUnit, s.Unit)
	if s.Type != sample.TypeUnspecified {
		add(TagType, s.Type.String())
	}
	for k, v := range s.Metadata {
		if !IsReservedTag(k) && validKey(k) {
			add(k, v)
		}
	}
	slices.SortFunc(tags, func(a, b tag) int { return strings.Compare(a.k, b.k) })
	e.tags = tags

	e.lp.SetLax(true) // validity and tag order are ensured above
	e.lp.SetBuffer(dst)
	e.lp.StartLine(s.Name)
	for _, t := range tags {
		e.lp.AddTag(t.k, t.v)
	}
	e.lp.AddField(ValueField, val)
	e.lp.EndLine(s.Timestamp)
	out := e.lp.Bytes()
	if e.lp.Err() != nil {
		out = out[:len(dst)]
	}
	e.lp.SetBuffer(nil)
	clear(e.tags)
	return out
}

// validKey mirrors what line protocol can carry as a measurement, key or tag
// value: non-empty UTF-8 without control characters or a trailing backslash.
func validKey(s string) bool {
	if s == "" || s[len(s)-1] == '\\' || !utf8.ValidString(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

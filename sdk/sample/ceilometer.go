package sample

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The keys of a Ceilometer metering message, as its publishers send it
// (ceilometer.publisher.utils.meter_message_from_counter).
const (
	CeilometerName             = "counter_name"
	CeilometerType             = "counter_type"
	CeilometerUnit             = "counter_unit"
	CeilometerVolume           = "counter_volume"
	CeilometerUserID           = "user_id"
	CeilometerProjectID        = "project_id"
	CeilometerResourceID       = "resource_id"
	CeilometerTimestamp        = "timestamp"
	CeilometerResourceMetadata = "resource_metadata"
	CeilometerSource           = "source"
	CeilometerMessageID        = "message_id"
	CeilometerMonotonicTime    = "monotonic_time"
	CeilometerSignature        = "message_signature"
)

// FromCeilometer converts one Ceilometer metering message (a JSON object
// decoded into a map) into a Sample. Numbers may be float64, any Go integer
// type or json.Number (decode with json.Decoder.UseNumber so that
// VerifySignature sees integers as Ceilometer did). user_id and project_id
// may be null; timestamp may be absent (zero Timestamp). resource_metadata
// is flattened to dotted keys ({"flavor": {"name": "x"}} becomes
// "flavor.name"); its other values become the text Ceilometer's API shows
// for them, Python's str() of the value (FlattenMetadata): "True", "None",
// "[1, 2]", strings as they are.
func FromCeilometer(m map[string]any) (Sample, error) {
	var (
		s    Sample
		errs []error
	)
	str := func(key string, dst *string, required bool) {
		switch v := m[key].(type) {
		case string:
			*dst = v
			if required && v == "" {
				errs = append(errs, fmt.Errorf("%s: must not be empty", key))
			}
		case nil:
			if required {
				errs = append(errs, fmt.Errorf("%s: missing", key))
			}
		default:
			errs = append(errs, fmt.Errorf("%s: want a string, got %T", key, v))
		}
	}
	str(CeilometerName, &s.Name, true)
	str(CeilometerUnit, &s.Unit, false)
	str(CeilometerUserID, &s.UserID, false)
	str(CeilometerProjectID, &s.ProjectID, false)
	str(CeilometerResourceID, &s.ResourceID, false)
	str(CeilometerSource, &s.Source, false)
	str(CeilometerMessageID, &s.MessageID, false)
	str(CeilometerSignature, &s.Signature, false)

	var typ string
	str(CeilometerType, &typ, true)
	if typ != "" {
		t, err := ParseType(typ)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", CeilometerType, err))
		}
		s.Type = t
	}
	if v, ok := m[CeilometerVolume]; !ok || v == nil {
		errs = append(errs, fmt.Errorf("%s: missing", CeilometerVolume))
	} else if f, err := number(v); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", CeilometerVolume, err))
	} else {
		s.Volume = f
	}
	if v := m[CeilometerMonotonicTime]; v != nil {
		f, err := number(v)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: %w", CeilometerMonotonicTime, err))
		case math.IsNaN(f) || math.Abs(f) > float64(math.MaxInt64)/1e9:
			errs = append(errs, fmt.Errorf("%s: %v seconds is out of range", CeilometerMonotonicTime, f))
		default:
			s.MonotonicTime = time.Duration(math.Round(f * 1e9))
		}
	}
	switch v := m[CeilometerTimestamp].(type) {
	case nil:
	case string:
		t, err := ParseISOTime(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", CeilometerTimestamp, err))
		}
		s.Timestamp = t
	default:
		errs = append(errs, fmt.Errorf("%s: want an ISO 8601 string, got %T", CeilometerTimestamp, v))
	}
	switch v := m[CeilometerResourceMetadata].(type) {
	case nil:
	case map[string]any:
		if len(v) > 0 {
			s.Metadata = make(map[string]string, len(v))
			FlattenMetadata(s.Metadata, "", v)
		}
	case map[string]string:
		if len(v) > 0 {
			s.Metadata = make(map[string]string, len(v))
			for k, x := range v {
				s.Metadata[k] = x
			}
		}
	default:
		errs = append(errs, fmt.Errorf("%s: want an object, got %T", CeilometerResourceMetadata, v))
	}
	if len(errs) > 0 {
		return Sample{}, fmt.Errorf("decode ceilometer sample: %w", errors.Join(errs...))
	}
	return s, nil
}

func number(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case float32:
		return float64(x), nil
	case int:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case int32:
		return float64(x), nil
	case uint:
		return float64(x), nil
	case uint64:
		return float64(x), nil
	case uint32:
		return float64(x), nil
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return 0, fmt.Errorf("parse number %q: %w", string(x), err)
		}
		return f, nil
	}
	return 0, fmt.Errorf("want a number, got %T", v)
}

// ParseISOTime parses the ISO 8601 timestamps Ceilometer writes: with or
// without fractional seconds and zone offset ("2024-01-02T03:04:05.123456",
// "...Z", "...+00:00"), or with a space instead of the T. Times without a
// zone are UTC. The result is in UTC.
func ParseISOTime(s string) (time.Time, error) {
	// The layouts differ in the byte after the date and in whether a zone
	// follows, so at most one parses s: try the likeliest first (a failed
	// parse costs an error), then the others.
	first := 0
	if len(s) > 10 && s[10] == ' ' {
		first = 2
	}
	if !strings.HasSuffix(s, "Z") && (len(s) <= 19 || !strings.ContainsAny(s[19:], "+-")) {
		first++
	}
	if t, err := time.Parse(isoLayouts[first], s); err == nil {
		return t.UTC(), nil
	}
	for i, layout := range isoLayouts {
		if i == first {
			continue
		}
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("parse time %q: want ISO 8601 such as 2006-01-02T15:04:05.000000+00:00", s)
}

// isoLayouts are the layouts ParseISOTime takes: T or space after the
// date, each with and without a zone.
var isoLayouts = [...]string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
}

// FormatISOTime formats t as Python's datetime.isoformat does for an aware
// UTC time: microseconds (omitted when zero) and a +00:00 offset.
func FormatISOTime(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond()/1000 == 0 {
		return t.Format("2006-01-02T15:04:05+00:00")
	}
	return t.Format("2006-01-02T15:04:05.000000+00:00")
}

// ToCeilometer converts s into a Ceilometer metering message, ready for
// encoding/json. counter_volume and monotonic_time are json.Number values
// written as Python writes floats (1.0, 1e+16), so a Python consumer
// decodes them as floats and its signature check agrees with
// ComputeSignature; a non-finite volume stays a float64, which
// encoding/json refuses. Empty user_id and project_id become null, a zero
// monotonic_time null, and a zero timestamp is left out. Metadata is nested
// back at its dots ("flavor.name" under "flavor"), except where that
// would clash with another key, where the dotted key is kept.
// message_signature is set only when s has one.
func ToCeilometer(s *Sample) map[string]any {
	m := map[string]any{
		CeilometerName:             s.Name,
		CeilometerType:             s.Type.String(),
		CeilometerUnit:             s.Unit,
		CeilometerResourceID:       s.ResourceID,
		CeilometerSource:           s.Source,
		CeilometerMessageID:        s.MessageID,
		CeilometerUserID:           nullable(s.UserID),
		CeilometerProjectID:        nullable(s.ProjectID),
		CeilometerMonotonicTime:    nil,
		CeilometerResourceMetadata: nestMetadata(s.Metadata),
	}
	if math.IsNaN(s.Volume) || math.IsInf(s.Volume, 0) {
		m[CeilometerVolume] = s.Volume
	} else {
		m[CeilometerVolume] = json.Number(PythonFloat(s.Volume))
	}
	if s.MonotonicTime != 0 {
		m[CeilometerMonotonicTime] = json.Number(PythonFloat(s.MonotonicTime.Seconds()))
	}
	if !s.Timestamp.IsZero() {
		m[CeilometerTimestamp] = FormatISOTime(s.Timestamp)
	}
	if s.Signature != "" {
		m[CeilometerSignature] = s.Signature
	}
	return m
}

// MeteringMessage is s as Ceilometer's publishers send it
// (ceilometer.publisher.utils.meter_message_from_counter): ToCeilometer's
// keys plus user_name and project_name (null), a null timestamp when s has
// none, message_id ContentID(s) when s has none (Ceilometer's samples
// always carry one), and message_signature computed with secret ("" without
// one, as Ceilometer sends it).
func MeteringMessage(s *Sample, secret string) map[string]any {
	m := ToCeilometer(s)
	if s.MessageID == "" {
		m[CeilometerMessageID] = ContentID(s)
	}
	m["user_name"] = nil
	m["project_name"] = nil
	if _, ok := m[CeilometerTimestamp]; !ok {
		m[CeilometerTimestamp] = nil
	}
	m[CeilometerSignature] = ComputeSignature(m, secret)
	return m
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nestMetadata(flat map[string]string) map[string]any {
	out := make(map[string]any, len(flat))
	keys := make([]string, 0, len(flat))
	for k := range flat {
		keys = append(keys, k)
	}
	// A key sorts after its dotted prefixes, so leaves are placed before
	// anything that would nest under them.
	slices.Sort(keys)
	for _, k := range keys {
		node := out
		rest := k
		for {
			head, tail, found := strings.Cut(rest, ".")
			if !found {
				if _, taken := node[rest]; taken {
					node = nil // a nested map is there already: keep k flat at the top
				}
				break
			}
			child, exists := node[head]
			if !exists {
				nm := map[string]any{}
				node[head] = nm
				node, rest = nm, tail
				continue
			}
			if nm, ok := child.(map[string]any); ok {
				node, rest = nm, tail
				continue
			}
			break // a leaf is in the way: keep the rest dotted at this level
		}
		if node == nil {
			out[k] = flat[k]
			continue
		}
		node[rest] = flat[k]
	}
	return out
}

// ComputeSignature returns Ceilometer's signature of msg (as
// ceilometer.publisher.utils.compute_signature does): the hex HMAC-SHA256,
// keyed with secret, of every (name, value) pair of msg in sorted key order,
// nested maps flattened with ':' ("resource_metadata:flavor:name") and
// message_signature left out; each name and then Python's str() of each
// value are fed in turn. An empty secret gives "".
//
// Values are rendered as Python 3 renders what json.loads gives: strings as
// they are, None, True and False, json.Number integers as written, floats
// (float64, or json.Number with a fraction or exponent) as repr(float)
// does ("1.0", "1e+16", "inf"). Lists are rendered after Ceilometer's
// decode_unicode, which turns their strings into bytes: ["a", 1] is
// "[b'a', 1]", and objects inside lists have sorted keys: "{b'k': b'v'}".
func ComputeSignature(msg map[string]any, secret string) string {
	if secret == "" {
		return ""
	}
	h := hmac.New(sha256.New, []byte(secret))
	var buf []byte
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for _, k := range sortedKeys(m) {
			name := prefix + k
			switch v := m[k].(type) {
			case map[string]any:
				walk(name+":", v)
				continue
			case map[string]string:
				sub := make(map[string]any, len(v))
				for sk, sv := range v {
					sub[sk] = sv
				}
				walk(name+":", sub)
				continue
			}
			if name == CeilometerSignature {
				continue
			}
			buf = append(buf[:0], name...)
			h.Write(buf)
			buf = appendPyStr(buf[:0], m[k])
			h.Write(buf)
		}
	}
	walk("", msg)
	return hex.EncodeToString(h.Sum(nil))
}

// VerifySignature reports whether msg's message_signature matches
// ComputeSignature(msg, secret), in constant time. With an empty secret
// every message verifies, as in Ceilometer.
func VerifySignature(msg map[string]any, secret string) bool {
	if secret == "" {
		return true
	}
	got, _ := msg[CeilometerSignature].(string)
	want := ComputeSignature(msg, secret)
	return hmac.Equal([]byte(got), []byte(want))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys) // byte order of UTF-8 is code point order, as in Python
	return keys
}

// appendPyStr appends Python's str(v).
func appendPyStr(dst []byte, v any) []byte {
	switch x := v.(type) {
	case string:
		return append(dst, x...)
	case []any:
		return appendPyList(dst, x)
	case []string:
		l := make([]any, len(x))
		for i, s := range x {
			l[i] = s
		}
		return appendPyList(dst, l)
	case map[string]any:
		return appendPyDict(dst, x)
	}
	return appendPyScalar(dst, v)
}

func appendPyScalar(dst []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(dst, "None"...)
	case bool:
		if x {
			return append(dst, "True"...)
		}
		return append(dst, "False"...)
	case float64:
		return append(dst, PythonFloat(x)...)
	case float32:
		return append(dst, PythonFloat(float64(x))...)
	case int:
		return strconv.AppendInt(dst, int64(x), 10)
	case int8:
		return strconv.AppendInt(dst, int64(x), 10)
	case int16:
		return strconv.AppendInt(dst, int64(x), 10)
	case int32:
		return strconv.AppendInt(dst, int64(x), 10)
	case int64:
		return strconv.AppendInt(dst, x, 10)
	case uint:
		return strconv.AppendUint(dst, uint64(x), 10)
	case uint8:
		return strconv.AppendUint(dst, uint64(x), 10)
	case uint16:
		return strconv.AppendUint(dst, uint64(x), 10)
	case uint32:
		return strconv.AppendUint(dst, uint64(x), 10)
	case uint64:
		return strconv.AppendUint(dst, x, 10)
	case json.Number:
		return append(dst, pyNumber(string(x))...)
	case string:
		return append(dst, x...)
	}
	return fmt.Append(dst, v)
}

// appendPyList appends str() of a list after decode_unicode: strings
// become bytes, dicts get sorted keys.
func appendPyList(dst []byte, l []any) []byte {
	dst = append(dst, '[')
	for i, e := range l {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		dst = appendPyRepr(dst, e)
	}
	return append(dst, ']')
}

func appendPyDict(dst []byte, m map[string]any) []byte {
	dst = append(dst, '{')
	for i, k := range sortedKeys(m) {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		dst = appendPyBytesRepr(dst, k)
		dst = append(dst, ": "...)
		dst = appendPyRepr(dst, m[k])
	}
	return append(dst, '}')
}

// appendPyRepr appends repr() of an element of a decode_unicode'd list.
func appendPyRepr(dst []byte, v any) []byte {
	switch x := v.(type) {
	case string:
		return appendPyBytesRepr(dst, x)
	case []any, []string, map[string]any:
		return appendPyStr(dst, x)
	}
	return appendPyScalar(dst, v)
}

// appendPyBytesRepr appends repr(s.encode('utf-8')).
func appendPyBytesRepr(dst []byte, s string) []byte {
	q := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		q = '"'
	}
	dst = append(dst, 'b', q)
	const hexdig = "0123456789abcdef"
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == q || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\t':
			dst = append(dst, `\t`...)
		case c == '\n':
			dst = append(dst, `\n`...)
		case c == '\r':
			dst = append(dst, `\r`...)
		case c < 0x20 || c >= 0x7f:
			dst = append(dst, '\\', 'x', hexdig[c>>4], hexdig[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, q)
}

// pyNumber renders a JSON number as Python's json.loads then str() would:
// integers as written (canonical in valid JSON, but for "-0"), anything
// with a fraction or exponent as a float.
func pyNumber(s string) string {
	if !strings.ContainsAny(s, ".eE") {
		if s == "-0" {
			return "0"
		}
		return s
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return s
	}
	return PythonFloat(f)
}

// PythonFloat renders f as Python's repr(float) (how Ceilometer and Panko
// write floats as text): the shortest round-tripping
// digits, in positional form with at least one decimal when the decimal
// exponent is in [-4, 16), in scientific form with a two-digit exponent
// otherwise.
func PythonFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64)
	i := strings.LastIndexByte(e, 'e')
	exp, _ := strconv.Atoi(e[i+1:])
	if f != 0 && (exp < -4 || exp >= 16) {
		return e // Go writes "1e+16", "1.5e-05" like Python
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsRune(s, '.') {
		s += ".0"
	}
	return s
}

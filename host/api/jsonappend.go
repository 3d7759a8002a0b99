package api

import (
	"errors"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// The answers of POST and GET /v2/meters/{name} list thousands of samples;
// oldSampleJSON writes its own JSON, without reflection, byte for byte what
// encoding/json writes for it (TestOldSampleJSONAsEncodingJSON,
// FuzzOldSampleJSON).

// errNonFinite is a volume JSON cannot carry (encoding/json refuses it too).
var errNonFinite = errors.New("json: unsupported value: a volume that is not finite")

// appendJSON appends o as encoding/json marshals it.
func (o *oldSampleJSON) appendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"counter_name":`...)
	b = appendJSONString(b, o.CounterName)
	b = append(b, `,"counter_type":`...)
	b = appendJSONString(b, o.CounterType)
	b = append(b, `,"counter_unit":`...)
	b = appendJSONString(b, o.CounterUnit)
	b = append(b, `,"counter_volume":`...)
	var err error
	if b, err = appendJSONFloat(b, o.CounterVolume); err != nil {
		return b, err
	}
	b = append(b, `,"message_id":`...)
	b = appendJSONString(b, o.MessageID)
	b = append(b, `,"resource_id":`...)
	b = appendJSONString(b, o.ResourceID)
	b = append(b, `,"project_id":`...)
	b = o.ProjectID.appendJSON(b)
	b = append(b, `,"user_id":`...)
	b = o.UserID.appendJSON(b)
	b = append(b, `,"source":`...)
	b = appendJSONString(b, o.Source)
	b = append(b, `,"timestamp":`...)
	b = o.Timestamp.appendJSON(b)
	b = append(b, `,"recorded_at":`...)
	b = o.RecordedAt.appendJSON(b)
	b = append(b, `,"resource_metadata":`...)
	b = appendJSONStringMap(b, o.ResourceMetadata)
	return append(b, '}'), nil
}

// appendJSON appends s as its MarshalJSON writes it.
func (s nullString) appendJSON(b []byte) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return appendJSONString(b, string(s))
}

// appendJSON appends t as its MarshalJSON writes it (the layout needs no
// escaping).
func (t isoTime) appendJSON(b []byte) []byte {
	tt := time.Time(t)
	if tt.IsZero() {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = tt.UTC().AppendFormat(b, isoLayout)
	return append(b, '"')
}

// appendJSONStringMap appends m as encoding/json does: keys sorted, nil
// as null.
func appendJSONStringMap(b []byte, m map[string]string) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	b = append(b, '{')
	if len(m) == 1 {
		for k, v := range m {
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSONString(b, v)
		}
		return append(b, '}')
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONString(b, m[k])
	}
	return append(b, '}')
}

// appendJSONFloat appends f as encoding/json writes a float64: as ES6
// converts a number to a string.
func appendJSONFloat(b []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, errNonFinite
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 is e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

// appendJSONString appends s quoted as encoding/json writes a string (with
// HTML escaping, its default): <, > and & escaped, invalid UTF-8 as
// \ufffd, U+2028 and U+2029 escaped.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

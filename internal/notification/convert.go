package notification

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/altimeter/altimeter/sdk/sample"
)

// The conversions below follow Python's float(), int() and str(), which is
// what Ceilometer applies to the values its JSONPath definitions find.

// Float converts v as Python's float() does: numbers, booleans and numeric
// strings ("12", " 1.5e3 ").
func Float(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case int:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case json.Number:
		return parseFloat(string(x))
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case string:
		return parseFloat(x)
	}
	return 0, fmt.Errorf("want a number, got %s", describe(v))
}

func parseFloat(s string) (float64, error) {
	t := strings.TrimSpace(s)
	f, err := strconv.ParseFloat(strings.ReplaceAll(t, "_", ""), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) || t == "" || strings.HasPrefix(t, "0x") {
		return 0, fmt.Errorf("want a number, got string %q", clip(s))
	}
	return f, nil
}

// Int converts v as Python's int() does: integers, floats truncated
// towards zero, booleans and strings holding an integer ("12", not "1.5").
func Int(v any) (int64, error) {
	switch x := v.(type) {
	case int:
		return int64(x), nil
	case int64:
		return x, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) || math.Abs(x) >= 1<<63 {
			return 0, fmt.Errorf("cannot convert %v to an integer", x)
		}
		return int64(x), nil
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return i, nil
		}
		f, err := parseFloat(string(x))
		if err != nil {
			return 0, err
		}
		return Int(f)
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case string:
		i, err := strconv.ParseInt(strings.ReplaceAll(strings.TrimSpace(x), "_", ""), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("want an integer, got string %q", clip(x))
		}
		return i, nil
	}
	return 0, fmt.Errorf("want an integer, got %s", describe(v))
}

// Text converts v as Python's str() does on the decoded JSON value (True,
// None, 5, 5.5, {'a': 1}): sample.PythonStr.
func Text(v any) string { return sample.PythonStr(v) }

// ParseTime parses an ISO 8601 timestamp as oslo's parse_isotime does:
// "2012-05-08T20:23:41.425105+00:00", "2012-05-08 20:23:48.028195",
// "...Z", or a bare date. Times without a zone are UTC; the result is UTC.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, ok := parseISO(s); ok {
		return t, nil
	}
	if t, err := sample.ParseISOTime(s); err == nil {
		return t, nil
	}
	for _, layout := range []string{
		"2006-01-02T15:04:05.999999999Z0700", "2006-01-02 15:04:05.999999999Z0700", // +0000, as CADF writes
		"2006-01-02", "2006-01-02T15:04Z07:00", "2006-01-02T15:04", "20060102T150405Z07:00", "20060102T150405",
	} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("want an ISO 8601 time, got %q", clip(s))
}

// Datetime converts v, which must be a string, with ParseTime.
func Datetime(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, fmt.Errorf("want an ISO 8601 time, got %s", describe(v))
	}
	return ParseTime(s)
}

// Truthy reports whether Python would find v true: not None, False, zero,
// "" or an empty list or dict.
func Truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case float64:
		return x != 0
	case int:
		return x != 0
	case int64:
		return x != 0
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		return err != nil || f != 0
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	}
	return true
}

// Equal compares a and b as Python's == does on decoded JSON and YAML
// values: numbers by value whatever their Go type, other values by kind.
func Equal(a, b any) bool {
	if fa, ok := numeric(a); ok {
		fb, ok := numeric(b)
		return ok && fa == fb
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !Equal(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !Equal(v, w) {
				return false
			}
		}
		return true
	}
	return false
}

// numeric returns v as a float when Python would treat it as a number
// (bool included, as True == 1).
func numeric(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		return f, err == nil
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// Flatten stores v in dst under key, as sample metadata keeps it:
// sample.FlattenMetadata (objects become dotted keys, everything else
// Python's str() of it: True, None, [1, 2]).
func Flatten(dst map[string]string, key string, v any) { sample.FlattenMetadata(dst, key, v) }

// describe names v's kind for an error message, with a clipped value.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("string %q", clip(x))
	case bool:
		return fmt.Sprintf("boolean %t", x)
	case []any:
		return fmt.Sprintf("a list of %d", len(x))
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T %s", v, clip(Text(v)))
}

// clip shortens s for an error message.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	i := max
	for i > 0 && !utf8Start(s[i]) {
		i--
	}
	return s[:i] + "..."
}

func utf8Start(b byte) bool { return b&0xc0 != 0x80 }

// Truncate cuts s to at most n characters (code points, as Python counts).
func Truncate(s string, n int) string {
	count := 0
	for i := range s {
		if count == n {
			return s[:i]
		}
		count++
	}
	return s
}

// parseISO parses the common forms YYYY-MM-DD[T ]HH:MM:SS[.frac][zone]
// (zone Z, +HH:MM, +HHMM or +HH) without allocating; false means "try the
// general layouts".
func parseISO(s string) (time.Time, bool) {
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	num := func(i, n int) (int, bool) {
		v := 0
		for _, c := range []byte(s[i : i+n]) {
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	year, ok1 := num(0, 4)
	month, ok2 := num(5, 2)
	day, ok3 := num(8, 2)
	hour, ok4 := num(11, 2)
	minute, ok5 := num(14, 2)
	sec, ok6 := num(17, 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 ||
		day > daysIn(time.Month(month), year) || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	i, nsec := 19, 0
	if i < len(s) && s[i] == '.' {
		i++
		start, scale := i, 100000000
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			nsec += int(s[i]-'0') * scale
			scale /= 10
			i++
		}
		if i == start {
			return time.Time{}, false
		}
	}
	offset := 0
	switch {
	case i == len(s):
	case s[i] == 'Z' && i+1 == len(s):
	case s[i] == '+' || s[i] == '-':
		zone := s[i+1:]
		var h, m int
		var ok bool
		switch {
		case len(zone) == 5 && zone[2] == ':':
			h, ok = num(i+1, 2)
			if ok {
				m, ok = num(i+4, 2)
			}
		case len(zone) == 4:
			h, ok = num(i+1, 2)
			if ok {
				m, ok = num(i+3, 2)
			}
		case len(zone) == 2:
			h, ok = num(i+1, 2)
		}
		if !ok || h > 23 || m > 59 {
			return time.Time{}, false
		}
		offset = (h*60 + m) * 60
		if s[i] == '-' {
			offset = -offset
		}
	default:
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	return t.Add(-time.Duration(offset) * time.Second), true
}

func daysIn(m time.Month, year int) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

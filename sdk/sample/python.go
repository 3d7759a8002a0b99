package sample

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// PythonStr converts a decoded JSON value as Python's str() does on the
// value Python's json module decodes from the same text: True, False,
// None, 5, 5.5, [1, 'x'], {'a': None}. Strings are themselves; a
// json.Number is an int when its text has no fraction or exponent and a
// float otherwise, as Python's json reads it ("1e3" is 1000.0, "-0" is
// 0); an integral float64 is written as the integer it most likely was in
// the JSON; object keys are sorted (as Ceilometer's decode_unicode sorts
// them).
func PythonStr(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return "None"
	case json.Number:
		return pythonNumber(x)
	case float64:
		return jsonFloat(x)
	}
	var b strings.Builder
	writePython(&b, v, false)
	return b.String()
}

// FlattenMetadata stores v in dst under key as a sample's flat metadata
// keeps it: an object becomes dotted keys (image_meta.base_image_ref, an
// empty key taking the object's keys as they are), anything else the text
// Ceilometer's API shows for it, PythonStr (True, None, [1, 2]).
func FlattenMetadata(dst map[string]string, key string, v any) {
	if m, ok := v.(map[string]any); ok {
		for k, e := range m {
			if key != "" {
				k = key + "." + k
			}
			FlattenMetadata(dst, k, e)
		}
		return
	}
	dst[key] = PythonStr(v)
}

// writePython writes v as Python's str(), or its repr when quote is set
// (as inside lists and dicts).
func writePython(b *strings.Builder, v any, quote bool) {
	switch x := v.(type) {
	case nil:
		b.WriteString("None")
	case bool:
		if x {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case string:
		if quote {
			writePythonRepr(b, x)
		} else {
			b.WriteString(x)
		}
	case float64:
		b.WriteString(jsonFloat(x))
	case int:
		b.WriteString(strconv.Itoa(x))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case json.Number:
		b.WriteString(pythonNumber(x))
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writePython(b, e, true)
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			writePythonRepr(b, k)
			b.WriteString(": ")
			writePython(b, x[k], true)
		}
		b.WriteByte('}')
	default:
		fmt.Fprint(b, x)
	}
}

// writePythonRepr writes s as Python 3's repr() of a str: single quotes,
// or double quotes when s holds a single quote and no double quote;
// backslash, the quote, \t, \n, \r and other unprintable characters
// escaped.
func writePythonRepr(b *strings.Builder, s string) {
	q := byte('\'')
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		q = '"'
	}
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == '\\' || r == rune(q):
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(b, `\x%02x`, r)
		case r >= 0x80 && !unicode.IsPrint(r) && r != ' ':
			switch {
			case r <= 0xff:
				fmt.Fprintf(b, `\x%02x`, r)
			case r <= 0xffff:
				fmt.Fprintf(b, `\u%04x`, r)
			default:
				fmt.Fprintf(b, `\U%08x`, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
}

// jsonFloat writes a float as the JSON number it most likely came from:
// an integral value without a fraction, others as Python writes floats.
func jsonFloat(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	return PythonFloat(f)
}

// pythonNumber writes a JSON number as Python's str() of what its json
// module decodes: an int (any size) or a float.
func pythonNumber(n json.Number) string {
	t := string(n)
	if !strings.ContainsAny(t, ".eE") {
		if i, ok := new(big.Int).SetString(t, 10); ok {
			return i.String()
		}
		return t
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return t
	}
	return PythonFloat(f)
}

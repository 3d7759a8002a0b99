package scale

import (
	"math"
	"strconv"
	"strings"
)

// kind is the dynamic type of a value.
type kind uint8

const (
	kNum     kind = iota // a Python int or float (held as float64)
	kBool                // True or False
	kStr                 // a string: a literal or a sample's string field
	kNone                // None (monotonic_time when unset)
	kMeta                // a resource_metadata value: a string that acts as a number where it parses as one
	kMissing             // a resource_metadata key the sample does not have
)

var kindName = [...]string{kNum: "float", kBool: "bool", kStr: "str", kNone: "NoneType", kMeta: "metadata value", kMissing: "missing metadata"}

// value is what evaluation passes around; it never allocates.
type value struct {
	k kind
	// isNum marks a kMeta value that parses as a number (in n).
	isNum bool
	n     float64
	s     string
}

func num(f float64) value { return value{k: kNum, n: f} }

func boolean(b bool) value {
	if b {
		return value{k: kBool, n: 1}
	}
	return value{k: kBool}
}

// metaValue wraps a metadata string, parsing it once as a number.
func metaValue(s string) value {
	f, ok := parseFloat(s)
	return value{k: kMeta, s: s, n: f, isNum: ok}
}

// number returns v as a number where Python arithmetic takes it: numbers,
// booleans, and metadata values that parse as numbers.
func (v value) number() (float64, bool) {
	switch v.k {
	case kNum, kBool:
		return v.n, true
	case kMeta:
		return v.n, v.isNum
	}
	return 0, false
}

// str returns v as a string where Python compares strings.
func (v value) str() (string, bool) {
	if v.k == kStr || v.k == kMeta {
		return v.s, true
	}
	return "", false
}

// truth is Python's truth value of v. A metadata value that parses as a
// number is true unless zero (Ceilometer's metadata held typed numbers);
// any other string is true unless empty.
func (v value) truth() bool {
	switch v.k {
	case kNum, kBool:
		return v.n != 0
	case kStr:
		return v.s != ""
	case kMeta:
		if v.isNum {
			return v.n != 0
		}
		return v.s != ""
	}
	return false
}

// parseFloat parses s as Python's float() does: surrounding whitespace,
// an optional sign, decimal digits with single underscores between them,
// an optional exponent, or inf, infinity and nan in any case. Hexadecimal
// is not a float in Python.
func parseFloat(s string) (float64, bool) {
	// Fast path: a short run of digits (cpu_number, flavor.vcpus, ...).
	if n := len(s); n > 0 && n <= 15 {
		var u uint64
		for i := 0; i < n; i++ {
			c := s[i] - '0'
			if c > 9 {
				goto general
			}
			u = u*10 + uint64(c)
		}
		return float64(u), true
	}
general:
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 400 {
		return 0, false
	}
	body := s
	if body[0] == '+' || body[0] == '-' {
		body = body[1:]
	}
	switch strings.ToLower(body) {
	case "inf", "infinity", "nan":
		f, err := strconv.ParseFloat(s, 64)
		return f, err == nil
	}
	underscore := false
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case isDigit(c), c == '.', c == 'e', c == 'E', c == '+', c == '-':
		case c == '_':
			if i == 0 || i+1 >= len(body) || !isDigit(body[i-1]) || !isDigit(body[i+1]) {
				return 0, false
			}
			underscore = true
		default:
			return 0, false
		}
	}
	if underscore {
		s = strings.ReplaceAll(s, "_", "") // rare: the only allocation here
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		// Out of range is inf in Python's float(); a syntax error is not a number.
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return f, true
		}
		return 0, false
	}
	return f, true
}

// parseInt parses s as Python's int() does for a string: whitespace, sign,
// decimal digits with single underscores. "3.5" is not an int.
func parseInt(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	body := s
	if body != "" && (body[0] == '+' || body[0] == '-') {
		body = body[1:]
	}
	if body == "" || !validDecimalUnderscores(body) {
		return 0, false
	}
	for i := 0; i < len(body); i++ {
		if !isDigit(body[i]) && body[i] != '_' {
			return 0, false
		}
	}
	f, ok := parseFloat(s)
	return f, ok && !math.IsInf(f, 0)
}

// tmask is a set of kinds, for checking an expression before it runs.
type tmask uint8

func (k kind) mask() tmask { return 1 << k }

const (
	mNum     = tmask(1 << kNum)
	mBool    = tmask(1 << kBool)
	mStr     = tmask(1 << kStr)
	mNone    = tmask(1 << kNone)
	mMeta    = tmask(1 << kMeta)
	mMissing = tmask(1 << kMissing)
	// mNumeric are the kinds arithmetic may take.
	mNumeric = mNum | mBool | mMeta
	// mText are the kinds string comparison may take.
	mText = mStr | mMeta
	mAll  = mNum | mBool | mStr | mNone | mMeta | mMissing
)

// describe names the kinds in m, for errors.
func (m tmask) describe() string {
	var parts []string
	for k := kNum; k <= kMissing; k++ {
		if m&k.mask() != 0 {
			parts = append(parts, kindName[k])
		}
	}
	return strings.Join(parts, " or ")
}

package scale

import (
	"fmt"
	"strconv"
	"strings"
)

// tokKind is a token's class.
type tokKind uint8

const (
	tEOF tokKind = iota
	tNum
	tStr
	tName  // identifiers and keywords (and, or, not, if, else, True, ...)
	tMeter // $(meter.name)
	tOp    // operators and punctuation
)

// token is one lexeme; pos is its byte offset in the source.
type token struct {
	kind tokKind
	pos  int
	text string  // name, operator, meter name, or the literal as written
	num  float64 // tNum
	str  string  // tStr, decoded
}

func (t token) is(op string) bool { return t.kind == tOp && t.text == op }

func (t token) isKeyword(k string) bool { return t.kind == tName && t.text == k }

func (t token) String() string {
	switch t.kind {
	case tEOF:
		return "end of expression"
	case tStr:
		return "string " + strconv.Quote(t.str)
	case tMeter:
		return "$(" + t.text + ")"
	}
	return strconv.Quote(t.text)
}

// unsupported maps operators Python has and this language does not take to
// the reason given in the error.
var unsupported = map[string]string{
	"<<": "bit shifts are not supported",
	">>": "bit shifts are not supported",
	"&":  "bitwise operators are not supported",
	"|":  "bitwise operators are not supported",
	"^":  "bitwise operators are not supported (Python's power is **)",
	"~":  "bitwise operators are not supported",
	"@":  "matrix multiplication is not supported",
	":=": "assignment expressions are not supported",
	"=":  "assignment is not supported (compare with ==)",
	"{":  "dict and set displays are not supported",
	"}":  "dict and set displays are not supported",
	":":  "slices, lambdas and dict displays are not supported",
	";":  "only one expression is allowed",
	"!":  "Python's negation is not (and != for inequality)",
	"&&": "Python's conjunction is and",
	"||": "Python's disjunction is or",
	"?":  "Python's conditional is a if cond else b",
}

// lex splits src into tokens, or reports the first lexical error.
func lex(src string) ([]token, error) {
	var toks []token
	i := 0
	for {
		for i < len(src) && isSpace(src[i]) {
			i++
		}
		if i < len(src) && src[i] == '#' { // comment to end of line
			for i < len(src) && src[i] != '\n' {
				i++
			}
			continue
		}
		if i >= len(src) {
			return append(toks, token{kind: tEOF, pos: i}), nil
		}
		if len(toks) >= maxTokens {
			return nil, errAt(src, i, "expression has more than %d tokens", maxTokens)
		}
		c := src[i]
		switch {
		case isDigit(c) || (c == '.' && i+1 < len(src) && isDigit(src[i+1])):
			t, n, err := lexNumber(src, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, t)
			i = n
		case c == '\'' || c == '"':
			t, n, err := lexString(src, i)
			if err != nil {
				return nil, err
			}
			// Adjacent literals concatenate, as in Python.
			if k := len(toks) - 1; k >= 0 && toks[k].kind == tStr {
				toks[k].str += t.str
				toks[k].text = src[toks[k].pos:n]
			} else {
				toks = append(toks, t)
			}
			i = n
		case isNameStart(c):
			j := i + 1
			for j < len(src) && isNameChar(src[j]) {
				j++
			}
			if j < len(src) && (src[j] == '\'' || src[j] == '"') && isStringPrefix(src[i:j]) {
				return nil, errAt(src, i, "string prefixes (%s'...') are not supported", src[i:j])
			}
			toks = append(toks, token{kind: tName, pos: i, text: src[i:j]})
			i = j
		case c == '$':
			if i+1 >= len(src) || src[i+1] != '(' {
				return nil, errAt(src, i, "$ must start a meter reference such as $(memory.usage)")
			}
			j := i + 2
			for j < len(src) && isMeterChar(src[j]) {
				j++
			}
			if j == i+2 || j >= len(src) || src[j] != ')' {
				return nil, errAt(src, i, "a meter reference is $( a name of letters, digits, _ . or - )")
			}
			toks = append(toks, token{kind: tMeter, pos: i, text: src[i+2 : j]})
			i = j + 1
		default:
			op := ""
			for _, cand := range [...]string{"**", "//", "==", "!=", "<=", ">=", "<<", ">>", ":=", "&&", "||", "->"} {
				if strings.HasPrefix(src[i:], cand) {
					op = cand
					break
				}
			}
			if op == "" {
				switch c {
				case '+', '-', '*', '/', '%', '<', '>', '(', ')', '[', ']', ',', '.',
					'&', '|', '^', '~', '@', '=', '{', '}', ':', ';', '!', '?':
					op = string(c)
				default:
					return nil, errAt(src, i, "unexpected character %q", runeAt(src, i))
				}
			}
			if why, bad := unsupported[op]; bad {
				return nil, errAt(src, i, "%q: %s", op, why)
			}
			if op == "->" {
				return nil, errAt(src, i, "unexpected \"->\"")
			}
			toks = append(toks, token{kind: tOp, pos: i, text: op})
			i += len(op)
		}
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isNameStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}
func isNameChar(c byte) bool  { return isNameStart(c) || isDigit(c) }
func isMeterChar(c byte) bool { return isNameChar(c) || c == '.' || c == '-' }

func isStringPrefix(s string) bool {
	switch strings.ToLower(s) {
	case "r", "b", "f", "u", "rb", "br", "fr", "rf":
		return true
	}
	return false
}

func runeAt(src string, i int) rune {
	for _, r := range src[i:] {
		return r
	}
	return 0
}

// lexNumber reads a Python integer or float literal at src[i:].
func lexNumber(src string, i int) (token, int, error) {
	start := i
	if src[i] == '0' && i+1 < len(src) && strings.ContainsRune("xXoObB", rune(src[i+1])) {
		base := map[byte]int{'x': 16, 'X': 16, 'o': 8, 'O': 8, 'b': 2, 'B': 2}[src[i+1]]
		j := i + 2
		for j < len(src) && (isNameChar(src[j])) {
			j++
		}
		digits := strings.ReplaceAll(src[i+2:j], "_", "")
		if !validUnderscores(src[i+2:j], true) || digits == "" {
			return token{}, 0, errAt(src, start, "invalid number literal %q", src[start:j])
		}
		u, err := strconv.ParseUint(digits, base, 64)
		if err != nil {
			return token{}, 0, errAt(src, start, "invalid number literal %q", src[start:j])
		}
		return token{kind: tNum, pos: start, text: src[start:j], num: float64(u)}, j, nil
	}
	j := i
	digits := func() {
		for j < len(src) && (isDigit(src[j]) || src[j] == '_') {
			j++
		}
	}
	digits()
	intPart := src[i:j]
	isFloat := false
	if j < len(src) && src[j] == '.' {
		isFloat = true
		j++
		digits()
	}
	if j < len(src) && (src[j] == 'e' || src[j] == 'E') {
		k := j + 1
		if k < len(src) && (src[k] == '+' || src[k] == '-') {
			k++
		}
		if k < len(src) && isDigit(src[k]) {
			isFloat = true
			j = k
			digits()
		}
	}
	if j < len(src) && (src[j] == 'j' || src[j] == 'J') {
		return token{}, 0, errAt(src, start, "complex numbers are not supported")
	}
	if j < len(src) && isNameChar(src[j]) {
		return token{}, 0, errAt(src, start, "invalid number literal %q", src[start:j+1])
	}
	lit := src[start:j]
	if !validDecimalUnderscores(lit) {
		return token{}, 0, errAt(src, start, "invalid number literal %q (an _ must sit between digits)", lit)
	}
	if !isFloat && len(intPart) > 1 && intPart[0] == '0' && strings.Trim(intPart, "0_") != "" {
		return token{}, 0, errAt(src, start, "leading zeros in decimal integer literals are not permitted; use an 0o prefix for octal integers")
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(lit, "_", ""), 64)
	if err != nil {
		// Out of range: Python makes a float literal inf and keeps an
		// integer exact; neither is a volume.
		return token{}, 0, errAt(src, start, "number literal %q is out of range", lit)
	}
	return token{kind: tNum, pos: start, text: lit, num: f}, j, nil
}

// validUnderscores reports whether every _ in s sits between two digits
// (or, after a base prefix, also right after the prefix).
func validUnderscores(s string, afterPrefix bool) bool {
	for k := 0; k < len(s); k++ {
		if s[k] != '_' {
			continue
		}
		if k+1 >= len(s) || s[k+1] == '_' {
			return false
		}
		if k == 0 && !afterPrefix {
			return false
		}
	}
	return true
}

func validDecimalUnderscores(s string) bool {
	for k := 0; k < len(s); k++ {
		if s[k] != '_' {
			continue
		}
		if k == 0 || k+1 >= len(s) || !isDigit(s[k-1]) || !isDigit(s[k+1]) {
			return false
		}
	}
	return true
}

// lexString reads a single- or double-quoted literal with Python's simple
// escapes.
func lexString(src string, i int) (token, int, error) {
	q := src[i]
	if strings.HasPrefix(src[i:], string([]byte{q, q, q})) {
		return token{}, 0, errAt(src, i, "triple-quoted strings are not supported")
	}
	var b strings.Builder
	j := i + 1
	for {
		if j >= len(src) || src[j] == '\n' {
			return token{}, 0, errAt(src, i, "unterminated string literal")
		}
		c := src[j]
		if c == q {
			break
		}
		if c != '\\' {
			b.WriteByte(c)
			j++
			continue
		}
		if j+1 >= len(src) {
			return token{}, 0, errAt(src, i, "unterminated string literal")
		}
		switch e := src[j+1]; e {
		case '\\', '\'', '"':
			b.WriteByte(e)
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case '0':
			b.WriteByte(0)
		case '\n':
			// line continuation: nothing
		default:
			b.WriteByte('\\') // Python keeps unknown escapes as written
			b.WriteByte(e)
		}
		j += 2
	}
	return token{kind: tStr, pos: i, text: src[i : j+1], str: b.String()}, j + 1, nil
}

// errAt builds a compile error at byte offset pos of src.
func errAt(src string, pos int, format string, args ...any) *Error {
	line, col := position(src, pos)
	return &Error{Offset: pos, Line: line, Column: col, Msg: fmt.Sprintf(format, args...)}
}

// position is the 1-based line and column (in characters) of byte offset
// pos in src.
func position(src string, pos int) (line, col int) {
	if pos > len(src) {
		pos = len(src)
	}
	line, col = 1, 1
	for _, r := range src[:pos] {
		if r == '\n' {
			line, col = line+1, 1
			continue
		}
		col++
	}
	return line, col
}

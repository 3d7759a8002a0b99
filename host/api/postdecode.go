package api

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/altimeter/altimeter/internal/intern"
	"github.com/altimeter/altimeter/sdk/sample"
)

// The typed decoder of POST /v2/meters/{name}: one pass over the body,
// each sample's attributes straight into a sample.Sample, no map per
// sample. It takes only what it fully understands and what
// decodePostedMap would accept as it stands; on anything else (a syntax
// error, an attribute of the wrong type, a refused sample, a key given
// twice in the metadata, a lone UTF-16 surrogate, invalid UTF-8, deep
// nesting) it gives up and decodePostedMap decides, and words the
// refusal. So the two accept the same bodies and agree on every sample
// (TestPostDecodersAgree, FuzzPostDecoders).

// postMaxDepth is the nesting the typed decoder follows in metadata;
// deeper bodies go to decodePostedMap (encoding/json allows 10,000).
const postMaxDepth = 64

// postScanner reads a JSON text from b at i. Its methods return false
// when the text is not what the typed decoder takes.
type postScanner struct {
	b   []byte
	i   int
	buf []byte // unescaped strings

	// Last strings read for the attributes that repeat from one sample
	// to the next (unit, project, user, source): a repeat shares the
	// string rather than allocating it.
	unit, project, user, source string
	// strs are the short strings read so far (metadata keys and values,
	// resource ids), shared by the samples that repeat them.
	strs intern.Table
}

// postMaxInterned bounds postScanner.strs.
const postMaxInterned = 4096

// postField says what the last occurrence of a string attribute held.
type postField uint8

const (
	fieldAbsent postField = iota
	fieldNull
	fieldString
)

// decodePostedTyped is decodePosted for the bodies the typed decoder
// takes; ok is false for every other body, refused ones included.
func decodePostedTyped(body []byte, name string, scope, ownProject string, r postRules) ([]sample.Sample, bool) {
	if name == "" {
		return nil, false
	}
	p := postScanner{b: body, strs: intern.New(postMaxInterned, 64)}
	p.ws()
	if !p.eat('[') {
		return nil, false
	}
	p.ws()
	if p.peek() == ']' {
		return nil, false // no samples: refused
	}
	out := make([]sample.Sample, 0, min(len(body)/200+1, 10_000))
	ids := make(map[string]int, cap(out))
	for i := 0; ; i++ {
		p.ws()
		smp, timeGiven, ok := p.item(name)
		if !ok {
			return nil, false
		}
		if completePosted(i, &smp, timeGiven, scope, ownProject, r, ids) != nil {
			return nil, false
		}
		out = append(out, smp)
		p.ws()
		if p.eat(',') {
			continue
		}
		if !p.eat(']') {
			return nil, false
		}
		break
	}
	p.ws()
	if p.i != len(p.b) {
		return nil, false
	}
	return out, true
}

// item reads one posted sample as sample.FromCeilometer reads its map,
// and checks what decodePostedMap checks before completePosted: the meter
// name, unit and resource. timeGiven is whether a timestamp was given
// (not null).
func (p *postScanner) item(name string) (smp sample.Sample, timeGiven bool, ok bool) {
	if !p.eat('{') {
		return smp, false, false
	}
	var (
		nameF, unitF, resF, typeF postField
		volume, timestamp         string // their text
		volumeSet, volumeNull     bool
		timeString                bool
		typ                       sample.Type
	)
	p.ws()
	if p.eat('}') {
		return smp, false, false // counter_name missing
	}
	for {
		p.ws()
		key, ok := p.str()
		if !ok {
			return smp, false, false
		}
		p.ws()
		if !p.eat(':') {
			return smp, false, false
		}
		p.ws()
		// Each attribute keeps its last occurrence, as a map does.
		switch string(key) {
		case sample.CeilometerName:
			var v []byte
			if nameF, v, ok = p.strOrNull(); !ok || (nameF == fieldString && string(v) != name) {
				return smp, false, false
			}
		case sample.CeilometerUnit:
			if ok = p.strField(&unitF, &smp.Unit, &p.unit); !ok {
				return smp, false, false
			}
		case sample.CeilometerResourceID:
			var v []byte
			if resF, v, ok = p.strOrNull(); !ok {
				return smp, false, false
			}
			smp.ResourceID = ""
			if resF == fieldString {
				smp.ResourceID = p.strs.Bytes(v)
			}
		case sample.CeilometerType:
			var v []byte
			if typeF, v, ok = p.strOrNull(); !ok {
				return smp, false, false
			}
			if typeF == fieldString {
				t, err := sample.ParseType(string(v))
				if err != nil {
					return smp, false, false
				}
				typ = t
			}
		case sample.CeilometerUserID:
			var f postField
			if ok = p.strField(&f, &smp.UserID, &p.user); !ok {
				return smp, false, false
			}
		case sample.CeilometerProjectID:
			var f postField
			if ok = p.strField(&f, &smp.ProjectID, &p.project); !ok {
				return smp, false, false
			}
		case sample.CeilometerSource:
			var f postField
			if ok = p.strField(&f, &smp.Source, &p.source); !ok {
				return smp, false, false
			}
		case sample.CeilometerMessageID:
			var f postField
			if ok = p.strField(&f, &smp.MessageID, nil); !ok {
				return smp, false, false
			}
		case sample.CeilometerVolume:
			volumeSet, volumeNull = true, false
			switch p.peek() {
			case '"':
				v, ok := p.str()
				if !ok {
					return smp, false, false
				}
				// As decodePostedMap: a string is a number, spaces aside.
				volume = strings.TrimSpace(string(v))
			case 'n':
				if !p.lit("null") {
					return smp, false, false
				}
				volumeNull = true
			default:
				v, ok := p.num()
				if !ok {
					return smp, false, false
				}
				volume = string(v)
			}
		case sample.CeilometerTimestamp:
			var f postField
			var v []byte
			if f, v, ok = p.strOrNull(); !ok {
				return smp, false, false
			}
			timeString = f == fieldString
			timestamp = string(v)
		case sample.CeilometerResourceMetadata:
			smp.Metadata = nil
			switch p.peek() {
			case 'n':
				if !p.lit("null") {
					return smp, false, false
				}
			case '{':
				if smp.Metadata, ok = p.metadata(); !ok {
					return smp, false, false
				}
			default:
				return smp, false, false
			}
		case "recorded_at": // accepted and ignored
			if _, ok := p.value(0); !ok {
				return smp, false, false
			}
		default:
			return smp, false, false // unknown attribute
		}
		p.ws()
		if p.eat(',') {
			continue
		}
		if !p.eat('}') {
			return smp, false, false
		}
		break
	}
	if nameF != fieldString || unitF != fieldString || resF != fieldString || smp.ResourceID == "" || typeF != fieldString || !volumeSet || volumeNull {
		return smp, false, false
	}
	smp.Name, smp.Type = name, typ
	f, err := strconv.ParseFloat(volume, 64)
	if err != nil {
		return smp, false, false
	}
	smp.Volume = f
	if timeString {
		t, err := sample.ParseISOTime(timestamp)
		if err != nil {
			return smp, false, false
		}
		smp.Timestamp = t
	}
	return smp, timeString, true
}

// strField reads a string or null into dst (null is ""), recording which
// in f. last, when set, is the string this attribute held in the previous
// sample: an equal one is shared.
func (p *postScanner) strField(f *postField, dst *string, last *string) bool {
	var v []byte
	var ok bool
	if *f, v, ok = p.strOrNull(); !ok {
		return false
	}
	switch {
	case *f == fieldNull:
		*dst = ""
	case last != nil && string(v) == *last:
		*dst = *last
	default:
		*dst = string(v)
		if last != nil {
			*last = *dst
		}
	}
	return true
}

// strOrNull reads a string (its bytes, valid until the next read) or null.
func (p *postScanner) strOrNull() (postField, []byte, bool) {
	if p.peek() == 'n' {
		return fieldNull, nil, p.lit("null")
	}
	v, ok := p.str()
	return fieldString, v, ok
}

// metadata reads resource_metadata, an object, flattened as
// sample.FromCeilometer flattens it (sample.FlattenMetadata): nil for {}.
// A key given twice in one object, or two paths flattened to one key,
// are left to decodePostedMap (a map keeps the last, or either).
func (p *postScanner) metadata() (map[string]string, bool) {
	var (
		dst  map[string]string
		objs []string // the flattened keys that hold an object
	)
	ok := p.flatten(&dst, &objs, "", 1)
	return dst, ok
}

// flatten reads an object into dst under prefix, as FlattenMetadata.
func (p *postScanner) flatten(dst *map[string]string, objs *[]string, prefix string, depth int) bool {
	if depth > postMaxDepth || !p.eat('{') {
		return false
	}
	p.ws()
	if p.eat('}') {
		return true
	}
	if *dst == nil {
		*dst = make(map[string]string, 8)
	}
	for {
		p.ws()
		kb, ok := p.str()
		if !ok {
			return false
		}
		var k string
		if prefix != "" {
			k = prefix + "." + string(kb)
		} else {
			k = p.strs.Bytes(kb)
		}
		p.ws()
		if !p.eat(':') {
			return false
		}
		p.ws()
		if _, dup := (*dst)[k]; dup {
			return false
		}
		for _, o := range *objs {
			if o == k {
				return false
			}
		}
		switch p.peek() {
		case '{':
			*objs = append(*objs, k)
			if !p.flatten(dst, objs, k, depth+1) {
				return false
			}
		case '"':
			v, ok := p.str()
			if !ok {
				return false
			}
			(*dst)[k] = p.strs.Bytes(v)
		case 't':
			if !p.lit("true") {
				return false
			}
			(*dst)[k] = "True"
		case 'f':
			if !p.lit("false") {
				return false
			}
			(*dst)[k] = "False"
		case 'n':
			if !p.lit("null") {
				return false
			}
			(*dst)[k] = "None"
		default:
			v, ok := p.value(depth)
			if !ok {
				return false
			}
			(*dst)[k] = sample.PythonStr(v)
		}
		p.ws()
		if p.eat(',') {
			continue
		}
		return p.eat('}')
	}
}

// value reads any JSON value as encoding/json decodes it into an any with
// UseNumber: map[string]any, []any, string, json.Number, bool or nil.
func (p *postScanner) value(depth int) (any, bool) {
	if depth > postMaxDepth {
		return nil, false
	}
	switch p.peek() {
	case '{':
		p.i++
		m := map[string]any{}
		p.ws()
		if p.eat('}') {
			return m, true
		}
		for {
			p.ws()
			k, ok := p.str()
			if !ok {
				return nil, false
			}
			key := string(k)
			p.ws()
			if !p.eat(':') {
				return nil, false
			}
			p.ws()
			v, ok := p.value(depth + 1)
			if !ok {
				return nil, false
			}
			m[key] = v
			p.ws()
			if p.eat(',') {
				continue
			}
			return m, p.eat('}')
		}
	case '[':
		p.i++
		l := []any{}
		p.ws()
		if p.eat(']') {
			return l, true
		}
		for {
			p.ws()
			v, ok := p.value(depth + 1)
			if !ok {
				return nil, false
			}
			l = append(l, v)
			p.ws()
			if p.eat(',') {
				continue
			}
			return l, p.eat(']')
		}
	case '"':
		v, ok := p.str()
		return string(v), ok
	case 't':
		return true, p.lit("true")
	case 'f':
		return false, p.lit("false")
	case 'n':
		return nil, p.lit("null")
	}
	v, ok := p.num()
	return json.Number(v), ok
}

func (p *postScanner) peek() byte {
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

func (p *postScanner) eat(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// ws skips JSON whitespace.
func (p *postScanner) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *postScanner) lit(s string) bool {
	if len(p.b)-p.i >= len(s) && string(p.b[p.i:p.i+len(s)]) == s {
		p.i += len(s)
		return true
	}
	return false
}

// num reads a JSON number and returns its text.
func (p *postScanner) num() ([]byte, bool) {
	start := p.i
	p.eat('-')
	switch c := p.peek(); {
	case c == '0':
		p.i++
	case c >= '1' && c <= '9':
		p.digits()
	default:
		return nil, false
	}
	if p.eat('.') && !p.digits() {
		return nil, false
	}
	if c := p.peek(); c == 'e' || c == 'E' {
		p.i++
		if c := p.peek(); c == '+' || c == '-' {
			p.i++
		}
		if !p.digits() {
			return nil, false
		}
	}
	return p.b[start:p.i], true
}

// digits skips one or more decimal digits.
func (p *postScanner) digits() bool {
	start := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	return p.i > start
}

// str reads a JSON string and returns its text, unescaped, valid until
// the next read: a slice of the body when it has no escapes. Invalid
// UTF-8 and lone surrogates (which encoding/json replaces with U+FFFD)
// are left to decodePostedMap.
func (p *postScanner) str() ([]byte, bool) {
	if !p.eat('"') {
		return nil, false
	}
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return p.b[start : p.i-1], true
		case c == '\\' || c >= utf8.RuneSelf:
			return p.strSlow(start)
		case c < 0x20:
			return nil, false
		}
		p.i++
	}
	return nil, false
}

// strSlow finishes a string from start that has escapes or non-ASCII.
func (p *postScanner) strSlow(start int) ([]byte, bool) {
	p.buf = append(p.buf[:0], p.b[start:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return p.buf, true
		case c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRune(p.b[p.i:])
			if r == utf8.RuneError && n == 1 {
				return nil, false
			}
			p.buf = append(p.buf, p.b[p.i:p.i+n]...)
			p.i += n
		case c == '\\':
			if p.i+1 >= len(p.b) {
				return nil, false
			}
			e := p.b[p.i+1]
			p.i += 2
			switch e {
			case '"', '\\', '/':
				p.buf = append(p.buf, e)
			case 'b':
				p.buf = append(p.buf, '\b')
			case 'f':
				p.buf = append(p.buf, '\f')
			case 'n':
				p.buf = append(p.buf, '\n')
			case 'r':
				p.buf = append(p.buf, '\r')
			case 't':
				p.buf = append(p.buf, '\t')
			case 'u':
				r, ok := p.hex4()
				if !ok {
					return nil, false
				}
				if utf16.IsSurrogate(r) {
					if !p.lit(`\u`) {
						return nil, false
					}
					r2, ok := p.hex4()
					if !ok {
						return nil, false
					}
					if r = utf16.DecodeRune(r, r2); r == utf8.RuneError {
						return nil, false
					}
				}
				p.buf = utf8.AppendRune(p.buf, r)
			default:
				return nil, false
			}
		default:
			p.buf = append(p.buf, c)
			p.i++
		}
	}
	return nil, false
}

// hex4 reads the four hex digits of a \u escape.
func (p *postScanner) hex4() (rune, bool) {
	if len(p.b)-p.i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range p.b[p.i : p.i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	p.i += 4
	return r, true
}

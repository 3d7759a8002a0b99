package notification

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/ohler55/ojg/jp"
)

// A definition value is what Ceilometer's declarative.Definition reads:
//
//	volume: $.payload.size                      # a JSONPath
//	resource_id: $.payload.host + "_" + $.payload.nodename
//	volume: $.payload.metrics[?(@.name='cpu.percent')].value * 100
//	provider: $.payload.name_to_id.`split(#, 0, 1)`
//	user_id: $.ctxt.user_id|$.ctxt.user         # alternatives
//	volume: 1                                   # a constant
//	resource_id: [payload.network.id, payload.id]  # alternatives
//	volume: {fields: [$.payload.created_at, $.payload.launched_at], plugin: timedelta}
//
// Paths use jsonpath-rw syntax (with or without the leading $; 'quoted'
// and [bracketed] keys; .[*] and [*]; [n]; .. descent; filters [?key=value]
// and [?(@.name='x')] joined by &) and are evaluated with ojg's jp after a
// translation to its syntax. Arithmetic follows jsonpath-rw-ext: + - * /
// between paths and literals, element by element; a type mismatch gives no
// value, as Python's TypeError does there. At the top level and in
// parentheses, | separates alternatives whose matches are concatenated in
// order (the first non-null wins when one value is wanted).

// Field is one compiled definition value. It is immutable and safe for
// concurrent use.
type Field struct {
	src    string
	root   node // nil for a constant
	konst  any
	plugin plugin
}

// node is one part of a compiled expression.
type node interface {
	// eval appends the values the node finds in doc (nulls included) to out.
	eval(doc any, out []any) ([]any, error)
	// isPath is false for literals: jsonpath-rw-ext combines a path with a
	// literal differently from two paths.
	isPath() bool
}

// match is one value found, with its jsonpath-rw path ("payload.a.[0]")
// when a plugin needs it.
type match struct {
	path  string
	value any
}

// CompileField compiles a definition value as decoded from YAML: a string
// expression, a number, a list of expressions (alternatives) or a mapping
// with "fields" (one of the former) and an optional "plugin" (a name, or a
// mapping with "name" and "parameters").
func CompileField(cfg any) (*Field, error) {
	var pl plugin
	if m, ok := cfg.(map[string]any); ok {
		fields, ok := m["fields"]
		if !ok {
			return nil, errors.New("a mapping needs a fields key")
		}
		if pc, ok := m["plugin"]; ok {
			p, err := compilePlugin(pc)
			if err != nil {
				return nil, err
			}
			pl = p
		}
		for k := range m {
			if k != "fields" && k != "plugin" && k != "type" {
				return nil, fmt.Errorf("unknown key %q (want fields, plugin, type)", k)
			}
		}
		cfg = fields
	}
	f := &Field{plugin: pl}
	switch c := cfg.(type) {
	case int:
		f.src, f.konst = strconv.Itoa(c), float64(c)
	case float64:
		f.src, f.konst = strconv.FormatFloat(c, 'g', -1, 64), c
	case string:
		n, err := parseExpr(c)
		if err != nil {
			return nil, err
		}
		f.src, f.root = c, n
	case []any:
		if len(c) == 0 {
			return nil, errors.New("empty list of fields")
		}
		srcs := make([]string, len(c))
		alts := make([]node, len(c))
		for i, e := range c {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("fields[%d]: want a JSONPath string, got %s", i, describe(e))
			}
			n, err := parseExpr(s)
			if err != nil {
				return nil, fmt.Errorf("fields[%d]: %w", i, err)
			}
			srcs[i], alts[i] = s, n
		}
		f.src = strings.Join(srcs, "|")
		if len(alts) == 1 {
			f.root = alts[0]
		} else {
			f.root = &unionNode{alts: alts}
		}
	case nil:
		return nil, errors.New("no value")
	default:
		return nil, fmt.Errorf("want a JSONPath, a list of them or a number, got %s", describe(cfg))
	}
	return f, nil
}

// MustCompileField is CompileField for values known to be valid; it
// panics otherwise.
func MustCompileField(cfg any) *Field {
	f, err := CompileField(cfg)
	if err != nil {
		panic(err)
	}
	return f
}

// String returns the source of f.
func (f *Field) String() string { return f.src }

// IsConstant reports whether f is a number rather than an expression.
func (f *Field) IsConstant() bool { return f.root == nil }

// SupportsAll reports whether f can return several values (All): false
// when its plugin combines them into one.
func (f *Field) SupportsAll() bool { return f.plugin == nil || f.plugin.supportsAll() }

// First returns the first non-null value f finds in doc (after its plugin,
// if any), and false when there is none.
func (f *Field) First(doc any) (any, bool, error) {
	if f.root == nil {
		return f.konst, true, nil
	}
	if f.plugin == nil {
		return first(f.root, doc)
	}
	vals, err := f.withPlugin(doc, false)
	if err != nil || len(vals) == 0 {
		return nil, false, err
	}
	return vals[0], true, nil
}

// first returns the first non-null value n finds in doc.
func first(n node, doc any) (any, bool, error) {
	switch x := n.(type) {
	case *pathNode:
		if x.steps != nil {
			v, found := x.walk(doc)
			if !found || v == nil {
				return nil, false, nil
			}
			v, ok := x.apply(v)
			return v, ok && v != nil, nil
		}
	case *unionNode:
		for _, a := range x.alts {
			if v, ok, err := first(a, doc); ok || err != nil {
				return v, ok, err
			}
		}
		return nil, false, nil
	case *litNode:
		return x.v, x.v != nil, nil
	}
	vals, err := n.eval(doc, nil)
	if err != nil {
		return nil, false, err
	}
	for _, v := range vals {
		if v != nil {
			return v, true, nil
		}
	}
	return nil, false, nil
}

// All returns every value f finds in doc, nulls included (Ceilometer's
// return_all_values, used by meter definitions with a lookup). With a
// plugin, nulls are dropped after it ran.
func (f *Field) All(doc any) ([]any, error) {
	if f.root == nil {
		return []any{f.konst}, nil
	}
	if f.plugin == nil {
		return f.root.eval(doc, nil)
	}
	return f.withPlugin(doc, true)
}

func (f *Field) withPlugin(doc any, all bool) ([]any, error) {
	ms, err := matches(f.root, doc, f.plugin.needsPaths(), nil)
	if err != nil {
		return nil, err
	}
	if !all {
		kept := ms[:0]
		for _, m := range ms {
			if m.value != nil {
				kept = append(kept, m)
			}
		}
		ms = kept
	}
	out := f.plugin.values(ms)
	kept := out[:0]
	for _, v := range out {
		if v != nil {
			kept = append(kept, v)
		}
	}
	return kept, nil
}

// matches appends what n finds in doc, with paths when asked (only plain
// paths have one; other values get "").
func matches(n node, doc any, paths bool, out []match) ([]match, error) {
	switch x := n.(type) {
	case *unionNode:
		for _, a := range x.alts {
			var err error
			if out, err = matches(a, doc, paths, out); err != nil {
				return nil, err
			}
		}
		return out, nil
	case *pathNode:
		if paths && len(x.exts) == 0 {
			target := x.target(doc)
			for _, loc := range x.x.Locate(target, 0) {
				out = append(out, match{path: rwPath(loc), value: loc.First(target)})
			}
			return out, nil
		}
	}
	vals, err := n.eval(doc, nil)
	if err != nil {
		return nil, err
	}
	for _, v := range vals {
		out = append(out, match{value: v})
	}
	return out, nil
}

// rwPath writes a located path as jsonpath-rw prints a match's full path:
// field names and [n] joined by dots, without the root.
func rwPath(x jp.Expr) string {
	parts := make([]string, 0, len(x))
	for _, f := range x {
		switch v := f.(type) {
		case jp.Child:
			parts = append(parts, string(v))
		case jp.Nth:
			parts = append(parts, "["+strconv.Itoa(int(v))+"]")
		}
	}
	return strings.Join(parts, ".")
}

// litNode is a number or string literal.
type litNode struct{ v any }

func (l *litNode) eval(_ any, out []any) ([]any, error) { return append(out, l.v), nil }
func (l *litNode) isPath() bool                         { return false }

// unionNode concatenates the matches of its alternatives.
type unionNode struct{ alts []node }

func (u *unionNode) eval(doc any, out []any) ([]any, error) {
	for _, a := range u.alts {
		var err error
		if out, err = a.eval(doc, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}
func (u *unionNode) isPath() bool { return true }

// pathNode is a JSONPath with optional extensions applied to each match.
type pathNode struct {
	x    jp.Expr
	exts []ext
	// steps is the path as keys (string) and indexes (int) when it has
	// nothing else, so it has at most one match and is walked without
	// ojg (whose evaluation allocates); nil otherwise.
	steps []any
	// first is the path's first key, when it starts with one.
	first string
}

// target returns what p is evaluated on: doc, or the raw message Document
// keeps in it when p's first key is not in doc (legacy flat paths such as
// $._context_user).
func (p *pathNode) target(doc any) any {
	if p.first == "" {
		return doc
	}
	m, ok := doc.(map[string]any)
	if !ok {
		return doc
	}
	if _, ok := m[p.first]; ok {
		return doc
	}
	if raw, ok := m[rawKey].(map[string]any); ok {
		return raw
	}
	return doc
}

// walk follows p.steps in doc.
func (p *pathNode) walk(doc any) (any, bool) {
	v := p.target(doc)
	for _, s := range p.steps {
		switch k := s.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil, false
			}
			if v, ok = m[k]; !ok {
				return nil, false
			}
		case int:
			l, ok := v.([]any)
			if !ok {
				return nil, false
			}
			i := k
			if i < 0 {
				i += len(l)
			}
			if i < 0 || i >= len(l) {
				return nil, false
			}
			v = l[i]
		}
	}
	return v, true
}

// ext maps one matched value to a value, or to none.
type ext func(v any) (any, bool)

func (p *pathNode) eval(doc any, out []any) ([]any, error) {
	if p.steps != nil {
		v, ok := p.walk(doc)
		if !ok {
			return out, nil
		}
		if v, ok = p.apply(v); ok {
			out = append(out, v)
		}
		return out, nil
	}
	for _, v := range p.x.Get(p.target(doc)) {
		if v, ok := p.apply(v); ok {
			out = append(out, v)
		}
	}
	return out, nil
}

func (p *pathNode) apply(v any) (any, bool) {
	for _, e := range p.exts {
		var ok bool
		if v, ok = e(v); !ok {
			return nil, false
		}
	}
	return v, true
}

func (p *pathNode) isPath() bool { return true }

// opNode is jsonpath-rw-ext arithmetic.
type opNode struct {
	op   byte
	l, r node
}

func (o *opNode) isPath() bool { return true }

func (o *opNode) eval(doc any, out []any) ([]any, error) {
	lv, err := o.l.eval(doc, nil)
	if err != nil {
		return nil, err
	}
	rv, err := o.r.eval(doc, nil)
	if err != nil {
		return nil, err
	}
	lp, rp := o.l.isPath(), o.r.isPath()
	n := 1
	switch {
	case lp && rp:
		if len(lv) == 0 || len(lv) != len(rv) {
			return out, nil
		}
		n = len(lv)
	case lp:
		n = len(lv)
	case rp:
		n = len(rv)
	}
	res := make([]any, 0, n)
	for i := range n {
		a, b := lv[0], rv[0]
		if lp {
			a = lv[i]
		}
		if rp {
			b = rv[i]
		}
		v, ok, err := arith(o.op, a, b)
		if err != nil {
			return nil, err
		}
		if !ok { // Python's TypeError: no value at all
			return out, nil
		}
		res = append(res, v)
	}
	return append(out, res...), nil
}

// arith applies op to a and b as Python does, reporting false for a type
// mismatch.
func arith(op byte, a, b any) (any, bool, error) {
	if op == '+' {
		if x, ok := a.(string); ok {
			y, ok := b.(string)
			return x + y, ok, nil
		}
	}
	x, ok := numeric(a)
	if !ok {
		return nil, false, nil
	}
	y, ok := numeric(b)
	if !ok {
		return nil, false, nil
	}
	switch op {
	case '+':
		return x + y, true, nil
	case '-':
		return x - y, true, nil
	case '*':
		return x * y, true, nil
	}
	if y == 0 {
		return nil, false, errors.New("division by zero")
	}
	return x / y, true, nil
}

// parseExpr compiles one expression string.
func parseExpr(src string) (node, error) {
	p := &parser{src: src}
	n, err := p.union()
	if err != nil {
		return nil, fmt.Errorf("parse %q: %w", src, err)
	}
	p.space()
	if p.i < len(p.src) {
		return nil, fmt.Errorf("parse %q: %w", src, p.errorf("unexpected %q", p.src[p.i]))
	}
	return n, nil
}

type parser struct {
	src string
	i   int
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("offset %d: %s", p.i, fmt.Sprintf(format, args...))
}

func (p *parser) space() {
	for p.i < len(p.src) && strings.IndexByte(" \t\r\n", p.src[p.i]) >= 0 {
		p.i++
	}
}

func (p *parser) peek() byte {
	if p.i < len(p.src) {
		return p.src[p.i]
	}
	return 0
}

func (p *parser) peekAt(k int) byte {
	if p.i+k < len(p.src) {
		return p.src[p.i+k]
	}
	return 0
}

func (p *parser) union() (node, error) {
	var alts []node
	for {
		n, err := p.sum()
		if err != nil {
			return nil, err
		}
		alts = append(alts, n)
		p.space()
		if p.peek() != '|' {
			break
		}
		p.i++
	}
	if len(alts) == 1 {
		return alts[0], nil
	}
	return &unionNode{alts: alts}, nil
}

func (p *parser) sum() (node, error) {
	l, err := p.product()
	if err != nil {
		return nil, err
	}
	for {
		p.space()
		c := p.peek()
		if c != '+' && c != '-' {
			return l, nil
		}
		p.i++
		r, err := p.product()
		if err != nil {
			return nil, err
		}
		l = &opNode{op: c, l: l, r: r}
	}
}

func (p *parser) product() (node, error) {
	l, err := p.atom()
	if err != nil {
		return nil, err
	}
	for {
		p.space()
		c := p.peek()
		if c != '*' && c != '/' {
			return l, nil
		}
		p.i++
		r, err := p.atom()
		if err != nil {
			return nil, err
		}
		l = &opNode{op: c, l: l, r: r}
	}
}

func (p *parser) atom() (node, error) {
	p.space()
	c := p.peek()
	switch {
	case c == 0:
		return nil, p.errorf("expression ends where a value is expected")
	case c == '(':
		p.i++
		n, err := p.union()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.peek() != ')' {
			return nil, p.errorf("missing )")
		}
		p.i++
		return n, nil
	case c == '\'' || c == '"':
		start := p.i
		s, err := p.quoted()
		if err != nil {
			return nil, err
		}
		if n := p.peek(); n == '.' || n == '[' { // a quoted key starting a path
			p.i = start
			return p.path()
		}
		return &litNode{v: s}, nil
	case isDigit(c) || c == '-' && isDigit(p.peekAt(1)):
		return p.number()
	}
	return p.path()
}

func (p *parser) number() (node, error) {
	start := p.i
	if p.peek() == '-' {
		p.i++
	}
	for isDigit(p.peek()) || p.peek() == '.' || p.peek() == 'e' || p.peek() == 'E' ||
		(p.peek() == '+' || p.peek() == '-') && (p.src[p.i-1] == 'e' || p.src[p.i-1] == 'E') {
		p.i++
	}
	f, err := strconv.ParseFloat(p.src[start:p.i], 64)
	if err != nil {
		return nil, p.errorf("bad number %q", p.src[start:p.i])
	}
	return &litNode{v: f}, nil
}

// quoted reads a '...' or "..." string with backslash escapes.
func (p *parser) quoted() (string, error) {
	q := p.src[p.i]
	var b strings.Builder
	for p.i++; p.i < len(p.src); p.i++ {
		c := p.src[p.i]
		switch {
		case c == '\\' && p.i+1 < len(p.src):
			p.i++
			b.WriteByte(p.src[p.i])
		case c == q:
			p.i++
			return b.String(), nil
		default:
			b.WriteByte(c)
		}
	}
	return "", p.errorf("unterminated string")
}

func (p *parser) ident() string {
	start := p.i
	for p.i < len(p.src) && (isIDChar(p.src[p.i]) || p.i > start && p.src[p.i] == '-') {
		p.i++
	}
	return p.src[start:p.i]
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isIDChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || isDigit(c) || c == '_' || c == '@' || c >= 0x80
}

// path compiles a JSONPath (with extensions) starting at p.i.
func (p *parser) path() (node, error) {
	start := p.i
	s, exts, err := p.pathString('$')
	if err != nil {
		return nil, err
	}
	x, err := jp.ParseString(s)
	if err != nil {
		return nil, fmt.Errorf("path %q: %w", p.src[start:p.i], err)
	}
	steps := make([]any, 0, len(x))
	for _, f := range x {
		switch v := f.(type) {
		case jp.Root:
		case jp.Child:
			steps = append(steps, string(v))
		case jp.Nth:
			steps = append(steps, int(v))
		default:
			steps = nil
		}
		if steps == nil {
			break
		}
	}
	n := &pathNode{x: x, exts: exts, steps: steps}
	if len(x) > 1 {
		if _, ok := x[0].(jp.Root); ok {
			if c, ok := x[1].(jp.Child); ok {
				n.first = string(c)
			}
		}
	}
	return n, nil
}

// pathString translates a jsonpath-rw path into ojg's syntax, with root
// "$" or "@" (inside filters).
func (p *parser) pathString(root byte) (string, []ext, error) {
	var b strings.Builder
	b.WriteByte(root)
	switch c := p.peek(); {
	case c == root:
		p.i++
	case isIDChar(c) || c == '\'' || c == '"' || c == '*' || c == '[':
		if err := p.segment(&b); err != nil {
			return "", nil, err
		}
	default:
		return "", nil, p.errorf("unexpected %q where a path is expected", c)
	}
	var exts []ext
	for {
		switch p.peek() {
		case '.':
			if len(exts) > 0 && p.peekAt(1) != '`' {
				return "", nil, p.errorf("a path cannot continue after an extension")
			}
			p.i++
			switch c := p.peek(); {
			case c == '.':
				p.i++
				b.WriteString("..")
				if p.peek() == '*' {
					p.i++
					b.WriteString("*")
					continue
				}
				if err := p.segment(&b); err != nil {
					return "", nil, err
				}
			case c == '`':
				e, err := p.extension()
				if err != nil {
					return "", nil, err
				}
				exts = append(exts, e)
			default:
				if err := p.segment(&b); err != nil {
					return "", nil, err
				}
			}
		case '[':
			if len(exts) > 0 {
				return "", nil, p.errorf("a path cannot continue after an extension")
			}
			if err := p.bracket(&b); err != nil {
				return "", nil, err
			}
		default:
			return b.String(), exts, nil
		}
	}
}

// segment translates one field after a dot: name, 'quoted', * or [...].
func (p *parser) segment(b *strings.Builder) error {
	switch c := p.peek(); {
	case c == '*':
		p.i++
		b.WriteString("[*]")
	case c == '[':
		return p.bracket(b)
	case c == '\'' || c == '"':
		s, err := p.quoted()
		if err != nil {
			return err
		}
		writeKey(b, s)
	case isIDChar(c):
		writeKey(b, p.ident())
	default:
		return p.errorf("expected a field name, got %q", c)
	}
	return nil
}

func writeKey(b *strings.Builder, k string) {
	b.WriteString("['")
	b.WriteString(strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(k))
	b.WriteString("']")
}

// bracket translates [*], [n], [a:b], ['key', ...], [key] and [?filter].
func (p *parser) bracket(b *strings.Builder) error {
	open := p.i
	end := p.closing(open)
	if end < 0 {
		return p.errorf("missing ]")
	}
	inner := strings.TrimSpace(p.src[open+1 : end])
	switch {
	case strings.HasPrefix(inner, "?"):
		f, err := p.filter(inner[1:])
		if err != nil {
			return err
		}
		b.WriteString("[?(" + f + ")]")
	case inner == "*":
		b.WriteString("[*]")
	case inner != "" && strings.Trim(inner, "0123456789-:, ") == "":
		b.WriteString("[" + inner + "]")
	default:
		sub := &parser{src: inner}
		var keys []string
		for {
			sub.space()
			c := sub.peek()
			switch {
			case c == '\'' || c == '"':
				s, err := sub.quoted()
				if err != nil {
					return p.errorf("in [%s]: %v", inner, err)
				}
				keys = append(keys, s)
			case isIDChar(c):
				keys = append(keys, sub.ident())
			default:
				return p.errorf("unsupported [%s]", inner)
			}
			sub.space()
			if sub.peek() != ',' {
				break
			}
			sub.i++
		}
		if sub.i != len(inner) {
			return p.errorf("unsupported [%s]", inner)
		}
		b.WriteByte('[')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString("'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(k) + "'")
		}
		b.WriteByte(']')
	}
	p.i = end + 1
	return nil
}

// closing returns the index of the bracket closing the one at open,
// skipping quoted strings and nested brackets, or -1.
func (p *parser) closing(open int) int {
	depth := 0
	for i := open; i < len(p.src); i++ {
		switch c := p.src[i]; c {
		case '\'', '"':
			for i++; i < len(p.src) && p.src[i] != c; i++ {
				if p.src[i] == '\\' {
					i++
				}
			}
		case '[', '(':
			depth++
		case ']', ')':
			depth--
			if depth == 0 {
				if c != ']' {
					return -1
				}
				return i
			}
		}
	}
	return -1
}

var filterOps = []string{"==", "!=", "<=", ">=", "=~", "=", "<", ">"}

// filter translates a jsonpath-rw-ext filter ("key=value",
// "(@.name='x')", "a>1 & b='c'", "key") into an ojg script.
func (p *parser) filter(src string) (string, error) {
	src = strings.TrimSpace(stripParens(strings.TrimSpace(src)))
	var clauses []string
	for _, c := range splitTop(src, '&') {
		c = strings.TrimSpace(stripParens(strings.TrimSpace(c)))
		if c == "" {
			continue
		}
		k, op := findOp(c)
		lhsSrc := c
		if k >= 0 {
			lhsSrc = strings.TrimSpace(c[:k])
		}
		lp := &parser{src: lhsSrc}
		if lp.peek() == '@' && lp.peekAt(1) == '.' {
			lp.i = 2
		}
		lhs, exts, err := lp.pathString('@')
		if err != nil || len(exts) > 0 || lp.i != len(lhsSrc) {
			return "", p.errorf("unsupported filter operand %q", lhsSrc)
		}
		if k < 0 {
			clauses = append(clauses, lhs)
			continue
		}
		rhs := strings.TrimSpace(c[k+len(op):])
		val, err := filterValue(rhs, op == "=~")
		if err != nil {
			return "", p.errorf("filter %q: %v", c, err)
		}
		switch op {
		case "=":
			op = "=="
		case "=~":
			op = "~="
		}
		clauses = append(clauses, lhs+" "+op+" "+val)
	}
	if len(clauses) == 0 {
		return "", p.errorf("empty filter")
	}
	return strings.Join(clauses, " && "), nil
}

func filterValue(s string, regex bool) (string, error) {
	if s == "" {
		return "", errors.New("no value to compare with")
	}
	if s[0] == '\'' || s[0] == '"' {
		q := &parser{src: s}
		v, err := q.quoted()
		if err != nil || q.i != len(s) {
			return "", fmt.Errorf("bad string %s", s)
		}
		s = v
	} else if !regex {
		if _, err := strconv.ParseFloat(s, 64); err == nil {
			return s, nil
		}
		switch strings.ToLower(s) {
		case "true", "false", "null":
			return strings.ToLower(s), nil
		case "none":
			return "null", nil
		}
	}
	if regex {
		if _, err := regexp.Compile(s); err != nil {
			return "", err
		}
		return "/" + strings.ReplaceAll(s, "/", `\/`) + "/", nil
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'", nil
}

// findOp returns the position and text of the first comparison operator
// outside quotes in s, or -1.
func findOp(s string) (int, string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\'' || c == '"' {
			for i++; i < len(s) && s[i] != c; i++ {
			}
			continue
		}
		for _, op := range filterOps {
			if strings.HasPrefix(s[i:], op) {
				return i, op
			}
		}
	}
	return -1, ""
}

// splitTop splits s at sep outside quotes and parentheses.
func splitTop(s string, sep byte) []string {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'' || c == '"':
			for i++; i < len(s) && s[i] != c; i++ {
			}
		case c == '(' || c == '[':
			depth++
		case c == ')' || c == ']':
			depth--
		case c == sep && depth == 0:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// stripParens removes one pair of parentheses enclosing all of s.
func stripParens(s string) string {
	if len(s) < 2 || s[0] != '(' || s[len(s)-1] != ')' {
		return s
	}
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 && i != len(s)-1 {
				return s
			}
		}
	}
	return s[1 : len(s)-1]
}

var (
	splitRE = regexp.MustCompile(`^split\((.),\s*(-?\d+),\s*(-?\d+)\)$`)
	subRE   = regexp.MustCompile(`^sub\(/(.*)/,\s*(.*)\)$`)
)

// extension compiles a backquoted jsonpath-rw-ext extension at p.i:
// split(sep, segment, max_split), sub(/regex/, repl), str() or len.
func (p *parser) extension() (ext, error) {
	end := strings.IndexByte(p.src[p.i+1:], '`')
	if end < 0 {
		return nil, p.errorf("unterminated extension")
	}
	body := strings.TrimSpace(p.src[p.i+1 : p.i+1+end])
	at := p.i
	p.i += end + 2
	if m := splitRE.FindStringSubmatch(body); m != nil {
		sep := m[1]
		seg, err1 := strconv.Atoi(m[2])
		max, err2 := strconv.Atoi(m[3])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("offset %d: bad %s", at, body)
		}
		return func(v any) (any, bool) {
			s, ok := v.(string)
			if !ok {
				return nil, false
			}
			return pySplit(s, sep, seg, max)
		}, nil
	}
	if m := subRE.FindStringSubmatch(body); m != nil {
		re, err := regexp.Compile(strings.TrimSpace(m[1]))
		if err != nil {
			return nil, fmt.Errorf("offset %d: %s: %w", at, body, err)
		}
		repl := pyRepl(strings.TrimSpace(m[2]))
		return func(v any) (any, bool) {
			s, ok := v.(string)
			if !ok {
				return nil, false
			}
			r := re.ReplaceAllString(s, repl)
			return r, r != s // jsonpath-rw-ext: no change, no value
		}, nil
	}
	switch body {
	case "str()", "str":
		return func(v any) (any, bool) { return Text(v), true }, nil
	case "len", "len()":
		return func(v any) (any, bool) {
			switch x := v.(type) {
			case string:
				return float64(len([]rune(x))), true
			case []any:
				return float64(len(x)), true
			case map[string]any:
				return float64(len(x)), true
			}
			return nil, false
		}, nil
	}
	return nil, fmt.Errorf("offset %d: unsupported extension `%s` (want split, sub, str or len)", at, body)
}

// pySplit is Python's s.split(sep, max)[seg] (max -1: no limit; a negative
// segment counts from the end).
func pySplit(s, sep string, seg, max int) (any, bool) {
	n := -1
	if max >= 0 {
		n = max + 1
	}
	parts := strings.SplitN(s, sep, n)
	if seg < 0 {
		seg += len(parts)
	}
	if seg < 0 || seg >= len(parts) {
		return nil, false
	}
	return parts[seg], true
}

// pyRepl turns a Python replacement (\1, \g<name>) into Go's (${1}).
func pyRepl(r string) string {
	var b strings.Builder
	for i := 0; i < len(r); i++ {
		c := r[i]
		switch {
		case c == '$':
			b.WriteString("$$")
		case c == '\\' && i+1 < len(r) && isDigit(r[i+1]):
			j := i + 1
			for j < len(r) && isDigit(r[j]) {
				j++
			}
			b.WriteString("${" + r[i+1:j] + "}")
			i = j - 1
		case c == '\\' && strings.HasPrefix(r[i:], `\g<`) && strings.IndexByte(r[i:], '>') > 0:
			k := strings.IndexByte(r[i:], '>')
			b.WriteString("${" + r[i+3:i+k] + "}")
			i += k
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

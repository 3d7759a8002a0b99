package scale

import (
	"slices"
	"strings"
)

// op is what a node computes.
type op uint8

const (
	opConst    op = iota
	opField       // a field of sample ref
	opMeta        // resource_metadata[key] of sample ref
	opNeg         // -x
	opPos         // +x
	opNot         // not x
	opAdd         // x + y
	opSub         // x - y
	opMul         // x * y
	opDiv         // x / y
	opFloorDiv    // x // y
	opMod         // x % y
	opPow         // x ** y
	opAnd         // x and y
	opOr          // x or y
	opCmp         // args[0] cmps[0] args[1] cmps[1] args[2] ...
	opCond        // x if y else z
	opCall        // fn(args...)
	opFail        // an error found before running, raised if evaluation reaches it (key is the message)
)

var opText = [...]string{
	opNeg: "unary -", opPos: "unary +", opAdd: "+", opSub: "-", opMul: "*", opDiv: "/",
	opFloorDiv: "//", opMod: "%", opPow: "**",
}

// cmpOp is a comparison operator.
type cmpOp uint8

const (
	cmpLT cmpOp = iota
	cmpLE
	cmpGT
	cmpGE
	cmpEQ
	cmpNE
)

var cmpText = [...]string{cmpLT: "<", cmpLE: "<=", cmpGT: ">", cmpGE: ">=", cmpEQ: "==", cmpNE: "!="}

// field is a sample attribute, named as in Ceilometer's Sample.as_dict().
type field uint8

const (
	fVolume field = iota
	fName
	fType
	fUnit
	fResourceID
	fProjectID
	fUserID
	fSource
	fID
	fTimestamp
	fMonotonicTime
	fMetadata // resource_metadata: only with a key
)

// fields maps the names an expression may use to sample fields. metadata is
// an alias of resource_metadata, and message_id of id.
var fields = map[string]field{
	"volume": fVolume, "name": fName, "type": fType, "unit": fUnit,
	"resource_id": fResourceID, "project_id": fProjectID, "user_id": fUserID,
	"source": fSource, "id": fID, "message_id": fID, "timestamp": fTimestamp,
	"monotonic_time": fMonotonicTime, "resource_metadata": fMetadata, "metadata": fMetadata,
}

func fieldNames() string {
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// node is one operation of a compiled expression; children are indexes into
// the expression's node slice.
type node struct {
	op      op
	pos     int32
	x, y, z int32
	args    []int32
	cmps    []cmpOp
	fn      builtin
	ref     int32 // sample slot of opField and opMeta
	fld     field
	key     string // opMeta's key; the text errors quote for opField/opMeta
	val     value  // opConst
	typ     tmask  // the kinds of value the node may give
}

// parser builds nodes from tokens by recursive descent over Python's
// expression grammar (the subset the package documents).
type parser struct {
	src    string
	toks   []token
	i      int
	nodes  []node
	depth  int
	meters bool     // $(meter) references instead of sample fields
	refs   []string // meter names, in order of first use
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token { t := p.toks[p.i]; p.i++; return t }

func (p *parser) fail(t token, format string, args ...any) *Error {
	return errAt(p.src, t.pos, format, args...)
}

func (p *parser) add(n node) (int32, *Error) {
	if len(p.nodes) >= maxNodes {
		return 0, errAt(p.src, int(n.pos), "expression has more than %d operations", maxNodes)
	}
	p.nodes = append(p.nodes, n)
	return int32(len(p.nodes) - 1), nil
}

func (p *parser) enter(t token) *Error {
	p.depth++
	if p.depth > maxDepth {
		return p.fail(t, "expression nests deeper than %d levels", maxDepth)
	}
	return nil
}

// parse reads the whole expression.
func (p *parser) parse() (int32, *Error) {
	root, err := p.expr()
	if err != nil {
		return 0, err
	}
	if t := p.peek(); t.kind != tEOF {
		if t.is(",") {
			return 0, p.fail(t, "tuples are not supported: an expression gives one number")
		}
		return 0, p.fail(t, "unexpected %s", t)
	}
	return root, nil
}

// expr := or_test ['if' or_test 'else' expr]
func (p *parser) expr() (int32, *Error) {
	if err := p.enter(p.peek()); err != nil {
		return 0, err
	}
	defer func() { p.depth-- }()
	if t := p.peek(); t.isKeyword("lambda") {
		return 0, p.fail(t, "lambda is not supported")
	}
	then, err := p.binary(0)
	if err != nil {
		return 0, err
	}
	t := p.peek()
	if !t.isKeyword("if") {
		return then, nil
	}
	p.next()
	cond, err := p.binary(0)
	if err != nil {
		return 0, err
	}
	if e := p.peek(); !e.isKeyword("else") {
		return 0, p.fail(e, "expected else after the condition, found %s", e)
	}
	p.next()
	els, err := p.expr()
	if err != nil {
		return 0, err
	}
	return p.add(node{op: opCond, pos: int32(t.pos), x: then, y: cond, z: els})
}

// Binary levels, loosest first: or, and, not, comparison, + -, * / // %.
const (
	levelOr = iota
	levelAnd
	levelNot
	levelCmp
	levelSum
	levelTerm
)

func (p *parser) binary(level int) (int32, *Error) {
	switch level {
	case levelOr, levelAnd:
		kw, o := "or", opOr
		if level == levelAnd {
			kw, o = "and", opAnd
		}
		x, err := p.binary(level + 1)
		if err != nil {
			return 0, err
		}
		for p.peek().isKeyword(kw) {
			t := p.next()
			y, err := p.binary(level + 1)
			if err != nil {
				return 0, err
			}
			if x, err = p.add(node{op: o, pos: int32(t.pos), x: x, y: y}); err != nil {
				return 0, err
			}
		}
		return x, nil
	case levelNot:
		if t := p.peek(); t.isKeyword("not") {
			p.next()
			if err := p.enter(t); err != nil {
				return 0, err
			}
			x, err := p.binary(levelNot)
			p.depth--
			if err != nil {
				return 0, err
			}
			return p.add(node{op: opNot, pos: int32(t.pos), x: x})
		}
		return p.binary(levelCmp)
	case levelCmp:
		return p.comparison()
	}
	x, err := p.unaryOrNext(level)
	if err != nil {
		return 0, err
	}
	for {
		t := p.peek()
		var o op
		switch {
		case level == levelSum && t.is("+"):
			o = opAdd
		case level == levelSum && t.is("-"):
			o = opSub
		case level == levelTerm && t.is("*"):
			o = opMul
		case level == levelTerm && t.is("/"):
			o = opDiv
		case level == levelTerm && t.is("//"):
			o = opFloorDiv
		case level == levelTerm && t.is("%"):
			o = opMod
		default:
			return x, nil
		}
		p.next()
		y, err := p.unaryOrNext(level)
		if err != nil {
			return 0, err
		}
		if x, err = p.add(node{op: o, pos: int32(t.pos), x: x, y: y}); err != nil {
			return 0, err
		}
	}
}

func (p *parser) unaryOrNext(level int) (int32, *Error) {
	if level == levelSum {
		return p.binary(levelTerm)
	}
	return p.factor()
}

// comparison := sum (cmp_op sum)*, chained as in Python.
func (p *parser) comparison() (int32, *Error) {
	first, err := p.binary(levelSum)
	if err != nil {
		return 0, err
	}
	args := []int32{first}
	var cmps []cmpOp
	start := p.peek()
	for {
		t := p.peek()
		var c cmpOp
		switch {
		case t.is("<"):
			c = cmpLT
		case t.is("<="):
			c = cmpLE
		case t.is(">"):
			c = cmpGT
		case t.is(">="):
			c = cmpGE
		case t.is("=="):
			c = cmpEQ
		case t.is("!="):
			c = cmpNE
		case t.isKeyword("in"), t.isKeyword("is"), t.isKeyword("not") && p.toks[p.i+1].isKeyword("in"):
			return 0, p.fail(t, "%q is not supported: compare with == or !=", t.text)
		default:
			if len(cmps) == 0 {
				return first, nil
			}
			return p.add(node{op: opCmp, pos: int32(start.pos), args: args, cmps: cmps})
		}
		p.next()
		y, err := p.binary(levelSum)
		if err != nil {
			return 0, err
		}
		args = append(args, y)
		cmps = append(cmps, c)
	}
}

// factor := ('+'|'-') factor | power
func (p *parser) factor() (int32, *Error) {
	t := p.peek()
	if t.is("+") || t.is("-") {
		p.next()
		if err := p.enter(t); err != nil {
			return 0, err
		}
		x, err := p.factor()
		p.depth--
		if err != nil {
			return 0, err
		}
		o := opNeg
		if t.is("+") {
			o = opPos
		}
		return p.add(node{op: o, pos: int32(t.pos), x: x})
	}
	return p.power()
}

// power := primary ['**' factor]; right-associative, and binds tighter than
// a unary minus on its left (-2**2 is -4) but not on its right (2**-1).
func (p *parser) power() (int32, *Error) {
	x, err := p.primary()
	if err != nil {
		return 0, err
	}
	t := p.peek()
	if !t.is("**") {
		return x, nil
	}
	p.next()
	if err := p.enter(t); err != nil {
		return 0, err
	}
	y, err := p.factor()
	p.depth--
	if err != nil {
		return 0, err
	}
	return p.add(node{op: opPow, pos: int32(t.pos), x: x, y: y})
}

// primary := atom, with the trailers this language allows.
func (p *parser) primary() (int32, *Error) {
	t := p.next()
	var (
		n   int32
		err *Error
	)
	switch t.kind {
	case tNum:
		n, err = p.add(node{op: opConst, pos: int32(t.pos), val: num(t.num)})
	case tStr:
		n, err = p.add(node{op: opConst, pos: int32(t.pos), val: value{k: kStr, s: t.str}})
	case tMeter:
		n, err = p.meterRef(t)
	case tName:
		n, err = p.name(t)
	case tOp:
		switch t.text {
		case "(":
			if p.peek().is(")") {
				return 0, p.fail(t, "tuples are not supported: an expression gives one number")
			}
			n, err = p.expr()
			if err != nil {
				return 0, err
			}
			if c := p.peek(); !c.is(")") {
				if c.is(",") {
					return 0, p.fail(c, "tuples are not supported: an expression gives one number")
				}
				return 0, p.fail(c, "expected ) to close the ( at column %d, found %s", errAt(p.src, t.pos, "").Column, c)
			}
			p.next()
		case "[":
			return 0, p.fail(t, "lists are not supported")
		default:
			return 0, p.fail(t, "unexpected %s", t)
		}
	default:
		return 0, p.fail(t, "unexpected %s", t)
	}
	if err != nil {
		return 0, err
	}
	// What may follow a value that is not a function or resource_metadata.
	switch nt := p.peek(); {
	case nt.is("("):
		return 0, p.fail(nt, "only the built-in functions %s can be called", builtinNames())
	case nt.is("."):
		return 0, p.fail(nt, "this value has no attributes (only resource_metadata has, as in resource_metadata.cpu_number)")
	case nt.is("["):
		return 0, p.fail(nt, "only resource_metadata can be subscripted, as in resource_metadata[\"flavor.vcpus\"]")
	}
	return n, nil
}

func (p *parser) name(t token) (int32, *Error) {
	pos := int32(t.pos)
	switch t.text {
	case "True":
		return p.add(node{op: opConst, pos: pos, val: boolean(true)})
	case "False":
		return p.add(node{op: opConst, pos: pos, val: boolean(false)})
	case "None":
		return p.add(node{op: opConst, pos: pos, val: value{k: kNone}})
	case "and", "or", "not", "if", "else", "in", "is", "lambda", "for", "yield", "await", "async":
		return 0, p.fail(t, "unexpected keyword %s", t.text)
	}
	if p.peek().is("(") {
		fn, ok := builtins[t.text]
		if !ok {
			return 0, p.fail(t, "unknown function %s (the built-in functions are %s)", t.text, builtinNames())
		}
		return p.call(t, fn)
	}
	if p.meters {
		if _, ok := builtins[t.text]; ok {
			return 0, p.fail(t, "%s is a function: call it, as in %s(x)", t.text, t.text)
		}
		return 0, p.fail(t, "unknown name %s: the arithmetic transformer's expression reads meters as $(meter.name), $(meter.name).volume or $(meter.name).resource_metadata.key", t.text)
	}
	f, ok := fields[t.text]
	if !ok {
		if _, ok := builtins[t.text]; ok {
			return 0, p.fail(t, "%s is a function: call it, as in %s(x)", t.text, t.text)
		}
		return 0, p.fail(t, "unknown name %s (an expression reads the sample's %s)", t.text, fieldNames())
	}
	return p.field(t, 0, f, t.text)
}

// field builds a read of field f of sample slot ref; resource_metadata takes
// its key from the attribute and subscript trailers that follow.
func (p *parser) field(t token, ref int32, f field, text string) (int32, *Error) {
	if f != fMetadata {
		return p.add(node{op: opField, pos: int32(t.pos), ref: ref, fld: f, key: text})
	}
	var key strings.Builder
	for {
		nt := p.peek()
		switch {
		case nt.is("."):
			p.next()
			a := p.next()
			if a.kind != tName {
				return 0, p.fail(a, "expected a metadata key after ., found %s", a)
			}
			if key.Len() > 0 {
				key.WriteByte('.')
			}
			key.WriteString(a.text)
		case nt.is("["):
			p.next()
			k := p.next()
			if k.kind != tStr {
				return 0, p.fail(k, "a resource_metadata subscript must be a string literal, as in [\"flavor.vcpus\"]")
			}
			if c := p.next(); !c.is("]") {
				return 0, p.fail(c, "expected ] after the key, found %s", c)
			}
			if key.Len() > 0 {
				key.WriteByte('.')
			}
			key.WriteString(k.str)
		default:
			if key.Len() == 0 {
				return 0, p.fail(t, "%s needs a key, as in %s.cpu_number or %s[\"flavor.vcpus\"]", text, text, text)
			}
			if key.Len() > maxKey {
				return 0, p.fail(t, "metadata key is longer than %d bytes", maxKey)
			}
			k := key.String()
			return p.add(node{op: opMeta, pos: int32(t.pos), ref: ref, fld: fMetadata, key: k, val: value{s: text + "." + k}})
		}
	}
}

// meterRef reads $(meter) and an optional .field; $(meter) alone is its volume.
func (p *parser) meterRef(t token) (int32, *Error) {
	if !p.meters {
		return 0, p.fail(t, "meter references such as $(%s) are only for the arithmetic transformer; read this sample's fields by name (volume, resource_metadata.x)", t.text)
	}
	ref := int32(slices.Index(p.refs, t.text))
	if ref < 0 {
		if len(p.refs) >= MaxRefs {
			return 0, p.fail(t, "expression references more than %d meters", MaxRefs)
		}
		p.refs = append(p.refs, t.text)
		ref = int32(len(p.refs) - 1)
	}
	text := "$(" + t.text + ")"
	if !p.peek().is(".") {
		return p.add(node{op: opField, pos: int32(t.pos), ref: ref, fld: fVolume, key: text})
	}
	p.next()
	a := p.next()
	f, ok := fields[a.text]
	if a.kind != tName || !ok {
		return 0, p.fail(a, "a meter has the fields %s, not %s", fieldNames(), a)
	}
	return p.field(t, ref, f, text+"."+a.text)
}

func (p *parser) call(t token, fn builtin) (int32, *Error) {
	p.next() // (
	if err := p.enter(t); err != nil {
		return 0, err
	}
	defer func() { p.depth-- }()
	var args []int32
	for !p.peek().is(")") {
		if len(args) > 0 {
			if c := p.next(); !c.is(",") {
				return 0, p.fail(c, "expected , or ) in the arguments of %s, found %s", t.text, c)
			}
			if p.peek().is(")") { // trailing comma
				break
			}
		}
		if a := p.peek(); a.is("*") || a.is("**") || (a.kind == tName && p.toks[p.i+1].is("=")) {
			return 0, p.fail(a, "only positional arguments are supported")
		}
		x, err := p.expr()
		if err != nil {
			return 0, err
		}
		args = append(args, x)
	}
	p.next() // )
	spec := builtinSpecs[fn]
	if len(args) < spec.min || len(args) > spec.max {
		return 0, p.fail(t, "%s takes %s, not %d", t.text, spec.arity, len(args))
	}
	return p.add(node{op: opCall, pos: int32(t.pos), fn: fn, args: args})
}

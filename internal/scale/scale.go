package scale

import (
	"fmt"
	"math"
	"slices"

	"github.com/altimeter/altimeter/sdk/sample"
)

// Limits on an expression, so that no configuration makes compiling or
// evaluating it unbounded. Evaluation visits each node at most once.
const (
	// MaxLen is the longest expression source, in bytes.
	MaxLen       = 4096
	maxTokens    = 1024
	maxNodes     = 512
	maxDepth     = 64  // nesting of parentheses, calls, unary operators
	maxTreeDepth = 128 // operations on the longest path (1+1+...+1)
	maxArgs      = 16
	maxKey       = 256
	// MaxRefs is the most meters a CompileMeters expression may read.
	MaxRefs = 32
)

// Error is an expression the language cannot take, found when compiling:
// where (byte offset, and line and column in characters, from 1) and why.
type Error struct {
	Offset, Line, Column int
	Msg                  string
}

func (e *Error) Error() string {
	if e.Line > 1 {
		return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Msg)
	}
	return fmt.Sprintf("column %d: %s", e.Column, e.Msg)
}

// EvalError is an expression failing for one sample: Python would have
// raised (division by zero, a metadata value that is not a number, ...), or
// the result is not a finite number. Msg does not depend on the sample's
// identity, so callers may group errors by it.
type EvalError struct {
	Column int
	Msg    string
}

func (e *EvalError) Error() string { return fmt.Sprintf("column %d: %s", e.Column, e.Msg) }

// Scale is a compiled expression. It is immutable and safe for concurrent
// use; evaluating it does not allocate.
type Scale struct {
	src   string
	nodes []node
	root  int32
	refs  []string
	typ   tmask
}

// Compile compiles src, an expression over one sample: volume, name, type,
// unit, resource_id, project_id, user_id, source, id (or message_id),
// timestamp, monotonic_time and resource_metadata (or metadata) with a key.
func Compile(src string) (*Scale, error) { return compile(src, false) }

// CompileMeters compiles src, an expression of the arithmetic transformer
// over several meters of one resource: $(meter.name) is that meter's volume
// and $(meter.name).field one of its fields. It must read at least one meter.
func CompileMeters(src string) (*Scale, error) {
	s, err := compile(src, true)
	if err != nil {
		return nil, err
	}
	if len(s.refs) == 0 {
		return nil, &Error{Offset: 0, Line: 1, Column: 1, Msg: "the expression must read at least one meter, as in $(memory.usage) / $(memory) * 100"}
	}
	return s, nil
}

func compile(src string, meters bool) (*Scale, error) {
	if len(src) > MaxLen {
		return nil, &Error{Offset: MaxLen, Line: 1, Column: 1, Msg: fmt.Sprintf("expression is longer than %d bytes", MaxLen)}
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	if toks[0].kind == tEOF {
		return nil, &Error{Offset: 0, Line: 1, Column: 1, Msg: "empty expression"}
	}
	p := &parser{src: src, toks: toks, meters: meters}
	root, perr := p.parse()
	if perr != nil {
		return nil, perr
	}
	s := &Scale{src: src, nodes: p.nodes, root: root, refs: p.refs}
	if cerr := s.check(); cerr != nil {
		return nil, cerr
	}
	return s, nil
}

// String returns the source.
func (s *Scale) String() string { return s.src }

// Refs returns the meters a CompileMeters expression reads, in order of
// first use: the order EvalRefs takes their samples in.
func (s *Scale) Refs() []string { return s.refs }

// MetaKeys returns the metadata keys the expression may read (of any
// sample), each once, in the order of the nodes that read them: an
// evaluation reads no other key, so a sample whose metadata map holds only
// these keys evaluates as one with all of them.
func (s *Scale) MetaKeys() []string {
	var keys []string
	for i := range s.nodes {
		if n := &s.nodes[i]; n.op == opMeta && !slices.Contains(keys, n.key) {
			keys = append(keys, n.key)
		}
	}
	return keys
}

// Eval computes the expression for one sample.
func (s *Scale) Eval(smp *sample.Sample) (float64, error) {
	if smp == nil {
		return 0, s.evalError(0, "no sample")
	}
	return s.run(&state{one: smp})
}

// EvalRefs computes a CompileMeters expression; ss[i] is the sample of
// Refs()[i]. For a Compile expression ss[0] is the sample.
func (s *Scale) EvalRefs(ss []*sample.Sample) (float64, error) {
	return s.run(&state{ss: ss})
}

func (s *Scale) run(st *state) (float64, error) {
	v := s.eval(s.root, st)
	if st.msg != "" {
		return 0, s.evalError(st.pos, st.msg)
	}
	f, ok := v.number()
	if !ok {
		return 0, s.evalError(s.nodes[s.root].pos, "the expression gave "+s.operand(s.root, v)+", not a number")
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, s.evalError(s.nodes[s.root].pos, "the expression gave "+fmtNum(f)+", not a finite number")
	}
	return f, nil
}

func (s *Scale) evalError(pos int32, msg string) *EvalError {
	_, col := position(s.src, int(pos))
	return &EvalError{Column: col, Msg: msg}
}

// check infers the kinds each node may give, finds operations no input
// could make valid, and folds operations on constants. Children precede
// their parents in nodes, so one pass in order sees children first.
//
// As in Python, an error only counts if evaluation reaches it: a failing
// node becomes opFail, a compile error when it lies on the path every
// evaluation takes, and an error for the samples that reach it otherwise
// (the untaken branch of x if c else y, the right side of and/or).
func (s *Scale) check() *Error {
	depth := make([]int, len(s.nodes))
	for i := range s.nodes {
		n := &s.nodes[i]
		d := 0
		for _, c := range s.children(n) {
			d = max(d, depth[c])
		}
		depth[i] = d + 1
		if depth[i] > maxTreeDepth {
			return errAt(s.src, int(n.pos), "expression has more than %d operations in a row", maxTreeDepth)
		}
		t, msg := s.kinds(n)
		if msg != "" {
			*n = node{op: opFail, pos: n.pos, key: msg, typ: mAll}
			continue
		}
		n.typ = t
		s.fold(int32(i))
	}
	if i := s.firstFailure(s.root); i >= 0 {
		n := &s.nodes[i]
		return errAt(s.src, int(n.pos), "%s", n.key)
	}
	root := &s.nodes[s.root]
	if root.typ&mNumeric == 0 {
		return errAt(s.src, int(root.pos), "the expression gives a %s, not a number", root.typ.describe())
	}
	s.typ = root.typ
	return nil
}

// firstFailure returns the first opFail node (in evaluation order) that
// every evaluation of node i reaches, or -1.
func (s *Scale) firstFailure(i int32) int32 {
	n := &s.nodes[i]
	var always []int32
	switch n.op {
	case opFail:
		return i
	case opAnd, opOr:
		always = []int32{n.x}
	case opCond:
		always = []int32{n.y}
	case opCmp:
		always = n.args[:2]
	default:
		always = s.children(n)
	}
	for _, c := range always {
		if f := s.firstFailure(c); f >= 0 {
			return f
		}
	}
	return -1
}

func (s *Scale) children(n *node) []int32 {
	switch n.op {
	case opConst, opField, opMeta, opFail:
		return nil
	case opNeg, opPos, opNot:
		return []int32{n.x}
	case opCond:
		return []int32{n.x, n.y, n.z}
	case opCmp, opCall:
		return n.args
	}
	return []int32{n.x, n.y}
}

func (s *Scale) kinds(n *node) (tmask, string) {
	t := func(i int32) tmask { return s.nodes[i].typ }
	switch n.op {
	case opConst:
		return n.val.k.mask(), ""
	case opField:
		switch n.fld {
		case fVolume:
			return mNum, ""
		case fMonotonicTime:
			return mNum | mNone, ""
		}
		return mStr, ""
	case opMeta:
		return mMeta | mMissing, ""
	case opNeg, opPos:
		if t(n.x)&mNumeric == 0 {
			return 0, "bad operand type for " + opText[n.op] + ": " + t(n.x).describe()
		}
		return mNum, ""
	case opNot:
		return mBool, ""
	case opAnd, opOr:
		return t(n.x) | t(n.y), ""
	case opCond:
		return t(n.x) | t(n.z), ""
	case opCmp:
		// Only the first comparison of a chain always runs; the others
		// are checked when evaluation reaches them.
		a, b, c := t(n.args[0]), t(n.args[1]), n.cmps[0]
		if c != cmpEQ && c != cmpNE && !(a&mNumeric != 0 && b&mNumeric != 0) && !(a&mText != 0 && b&mText != 0) {
			return 0, "'" + cmpText[c] + "' not supported between " + a.describe() + " and " + b.describe()
		}
		return mBool, ""
	case opCall:
		args := make([]tmask, len(n.args))
		for k, a := range n.args {
			args[k] = t(a)
		}
		return callType(n.fn, args)
	}
	a, b := t(n.x), t(n.y)
	switch {
	case a == mStr && b == mStr:
		return 0, "strings cannot be combined with " + opText[n.op] + ": an expression gives a number"
	case a&mNumeric == 0 || b&mNumeric == 0:
		return 0, "unsupported operand types for " + opText[n.op] + ": " + a.describe() + " and " + b.describe()
	}
	return mNum, ""
}

// fold replaces node i by its value, or by its error, when it reads no
// sample.
func (s *Scale) fold(i int32) {
	n := &s.nodes[i]
	if n.op == opConst || n.op == opField || n.op == opMeta || n.op == opFail {
		return
	}
	for _, c := range s.children(n) {
		if s.nodes[c].op != opConst {
			return
		}
	}
	st := state{}
	v := s.eval(i, &st)
	if st.msg != "" {
		s.nodes[i] = node{op: opFail, pos: st.pos, key: st.msg, typ: mAll}
		return
	}
	s.nodes[i] = node{op: opConst, pos: n.pos, val: v, typ: v.k.mask()}
}

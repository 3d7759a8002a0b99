package scale

import (
	"math"
	"strconv"
	"time"

	"github.com/altimeter/altimeter/sdk/sample"
)

// state is one evaluation: the samples the expression reads and the first
// error. It lives on the caller's stack.
type state struct {
	one *sample.Sample   // the sample of a Compile expression
	ss  []*sample.Sample // the samples of a CompileMeters expression
	pos int32
	msg string
}

func (st *state) fail(pos int32, msg string) value {
	if st.msg == "" {
		st.pos, st.msg = pos, msg
	}
	return value{}
}

// eval computes node i. On an error it records it in st and returns a zero
// value; callers check st.msg before using a child's value.
func (e *Scale) eval(i int32, st *state) value {
	n := &e.nodes[i]
	switch n.op {
	case opConst:
		return n.val
	case opFail:
		return st.fail(n.pos, n.key)
	case opField:
		return e.field(n, st)
	case opMeta:
		s := e.sample(n, st)
		if s == nil {
			return value{}
		}
		v, ok := s.Metadata[n.key]
		if !ok {
			return value{k: kMissing}
		}
		return metaValue(v)
	case opNeg, opPos:
		x := e.eval(n.x, st)
		if st.msg != "" {
			return value{}
		}
		f, ok := x.number()
		if !ok {
			return st.fail(n.pos, "bad operand for "+opText[n.op]+": "+e.operand(n.x, x))
		}
		if n.op == opNeg {
			if x.k == kBool {
				return num(0 - f) // an int in Python: -False is 0, not -0.0
			}
			return num(-f)
		}
		return num(f)
	case opNot:
		x := e.eval(n.x, st)
		return boolean(!x.truth())
	case opAnd:
		x := e.eval(n.x, st)
		if st.msg != "" || !x.truth() {
			return x
		}
		return e.eval(n.y, st)
	case opOr:
		x := e.eval(n.x, st)
		if st.msg != "" || x.truth() {
			return x
		}
		return e.eval(n.y, st)
	case opCond:
		c := e.eval(n.y, st)
		if st.msg != "" {
			return value{}
		}
		if c.truth() {
			return e.eval(n.x, st)
		}
		return e.eval(n.z, st)
	case opCmp:
		left := e.eval(n.args[0], st)
		for k, c := range n.cmps {
			if st.msg != "" {
				return value{}
			}
			right := e.eval(n.args[k+1], st)
			if st.msg != "" {
				return value{}
			}
			ok, msg := compare(c, left, right)
			if msg != "" {
				return st.fail(n.pos, msg)
			}
			if !ok {
				return boolean(false)
			}
			left = right
		}
		return boolean(true)
	case opCall:
		var buf [maxArgs]value
		args := buf[:len(n.args)]
		for k, a := range n.args {
			args[k] = e.eval(a, st)
			if st.msg != "" {
				return value{}
			}
		}
		v, msg := call(n.fn, args)
		if msg != "" {
			return st.fail(n.pos, msg)
		}
		return v
	}
	// Binary arithmetic.
	x := e.eval(n.x, st)
	if st.msg != "" {
		return value{}
	}
	y := e.eval(n.y, st)
	if st.msg != "" {
		return value{}
	}
	a, okA := x.number()
	b, okB := y.number()
	switch {
	case !okA && !okB && x.k == kStr && y.k == kStr:
		return st.fail(n.pos, "strings cannot be combined with "+opText[n.op]+": an expression gives a number")
	case !okA:
		return st.fail(n.pos, "unsupported operand for "+opText[n.op]+": "+e.operand(n.x, x))
	case !okB:
		return st.fail(n.pos, "unsupported operand for "+opText[n.op]+": "+e.operand(n.y, y))
	}
	r, msg := arith(n.op, a, b)
	if msg != "" {
		return st.fail(n.pos, msg)
	}
	return num(r)
}

// arith is Python's float arithmetic, with its errors.
func arith(o op, a, b float64) (float64, string) {
	switch o {
	case opAdd:
		return a + b, ""
	case opSub:
		return a - b, ""
	case opMul:
		return a * b, ""
	case opDiv:
		if b == 0 {
			return 0, "division by zero"
		}
		return a / b, ""
	case opFloorDiv:
		if b == 0 {
			return 0, "floor division by zero"
		}
		d, _ := pyDivmod(a, b)
		return d, ""
	case opMod:
		if b == 0 {
			return 0, "modulo by zero"
		}
		_, m := pyDivmod(a, b)
		return m, ""
	case opPow:
		return pyPow(a, b)
	}
	return 0, "unknown operator"
}

func (e *Scale) sample(n *node, st *state) *sample.Sample {
	if st.one != nil && n.ref == 0 {
		return st.one
	}
	if int(n.ref) >= len(st.ss) || st.ss[n.ref] == nil {
		name := "the sample"
		if int(n.ref) < len(e.refs) {
			name = "$(" + e.refs[n.ref] + ")"
		}
		st.fail(n.pos, "no sample for "+name)
		return nil
	}
	return st.ss[n.ref]
}

func (e *Scale) field(n *node, st *state) value {
	s := e.sample(n, st)
	if s == nil {
		return value{}
	}
	switch n.fld {
	case fVolume:
		return num(s.Volume)
	case fName:
		return value{k: kStr, s: s.Name}
	case fType:
		return value{k: kStr, s: s.Type.String()}
	case fUnit:
		return value{k: kStr, s: s.Unit}
	case fResourceID:
		return value{k: kStr, s: s.ResourceID}
	case fProjectID:
		return value{k: kStr, s: s.ProjectID}
	case fUserID:
		return value{k: kStr, s: s.UserID}
	case fSource:
		return value{k: kStr, s: s.Source}
	case fID:
		return value{k: kStr, s: s.MessageID}
	case fTimestamp:
		// Ceilometer's timestamps are Python isoformat strings.
		layout := "2006-01-02T15:04:05+00:00"
		if s.Timestamp.Nanosecond()/1000 != 0 {
			layout = "2006-01-02T15:04:05.000000+00:00"
		}
		return value{k: kStr, s: s.Timestamp.UTC().Format(layout)}
	case fMonotonicTime:
		if s.MonotonicTime == 0 {
			return value{k: kNone}
		}
		return num(float64(s.MonotonicTime) / float64(time.Second))
	}
	return st.fail(n.pos, "unknown field")
}

// operand describes a value an operator cannot take, naming where it came
// from when that is a sample field.
func (e *Scale) operand(i int32, v value) string {
	n := &e.nodes[i]
	src := ""
	switch n.op {
	case opMeta:
		src = n.val.s
	case opField:
		src = n.key
	}
	if src == "" {
		return describeValue(v)
	}
	switch v.k {
	case kMissing:
		return src + " is missing"
	case kMeta:
		return src + " is " + quote(v.s) + ", not a number"
	}
	return src + " is " + describeValue(v)
}

func describeValue(v value) string {
	switch v.k {
	case kNum:
		return "the number " + fmtNum(v.n)
	case kBool:
		if v.n != 0 {
			return "True"
		}
		return "False"
	case kStr:
		return "the string " + quote(v.s)
	case kNone:
		return "None"
	case kMeta:
		return "the metadata value " + quote(v.s)
	case kMissing:
		return "a missing metadata key"
	}
	return "?"
}

// compare is one Python comparison. Numbers compare as numbers; a metadata
// value compares as a number with a number and as a string with a string.
func compare(c cmpOp, a, b value) (bool, string) {
	if c == cmpEQ || c == cmpNE {
		eq := equal(a, b)
		return eq == (c == cmpEQ), ""
	}
	return order(c, a, b)
}

func equal(a, b value) bool {
	if a.k == kMissing || b.k == kMissing {
		return false
	}
	if a.k == kNone || b.k == kNone {
		return a.k == b.k
	}
	if a.k == kStr || b.k == kStr {
		sa, okA := a.str()
		sb, okB := b.str()
		return okA && okB && sa == sb
	}
	x, okA := a.number()
	y, okB := b.number()
	if okA && okB {
		return x == y
	}
	if a.k == kMeta && b.k == kMeta {
		return a.s == b.s
	}
	return false
}

func order(c cmpOp, a, b value) (bool, string) {
	var r int
	x, okA := a.number()
	y, okB := b.number()
	switch {
	case a.k == kStr || b.k == kStr || (a.k == kMeta && b.k == kMeta && !(okA && okB)):
		sa, okA := a.str()
		sb, okB := b.str()
		if !okA || !okB {
			return false, "'" + cmpText[c] + "' not supported between " + describeValue(a) + " and " + describeValue(b)
		}
		switch {
		case sa < sb:
			r = -1
		case sa > sb:
			r = 1
		}
	case okA && okB:
		if math.IsNaN(x) || math.IsNaN(y) {
			return false, ""
		}
		switch {
		case x < y:
			r = -1
		case x > y:
			r = 1
		}
	default:
		return false, "'" + cmpText[c] + "' not supported between " + describeValue(a) + " and " + describeValue(b)
	}
	switch c {
	case cmpLT:
		return r < 0, ""
	case cmpLE:
		return r <= 0, ""
	case cmpGT:
		return r > 0, ""
	}
	return r >= 0, ""
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strconv.Quote(s)
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

func itoa(i int) string { return strconv.Itoa(i) }

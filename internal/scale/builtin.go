package scale

import (
	"math"
	"slices"
	"strings"
)

// builtin is a Python built-in function the language offers.
type builtin uint8

const (
	bFloat builtin = iota
	bInt
	bAbs
	bMin
	bMax
	bRound
	bBool
)

type builtinSpec struct {
	name     string
	min, max int
	arity    string
}

var builtinSpecs = [...]builtinSpec{
	bFloat: {"float", 1, 1, "one argument"},
	bInt:   {"int", 1, 1, "one argument"},
	bAbs:   {"abs", 1, 1, "one argument"},
	bMin:   {"min", 2, maxArgs, "two or more arguments"},
	bMax:   {"max", 2, maxArgs, "two or more arguments"},
	bRound: {"round", 1, 2, "one or two arguments"},
	bBool:  {"bool", 1, 1, "one argument"},
}

var builtins = func() map[string]builtin {
	m := make(map[string]builtin, len(builtinSpecs))
	for i, s := range builtinSpecs {
		m[s.name] = builtin(i)
	}
	return m
}()

func builtinNames() string {
	names := make([]string, 0, len(builtinSpecs))
	for _, s := range builtinSpecs {
		names = append(names, s.name)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// callType is the kinds fn gives for arguments of kinds args, or an error
// message when no argument kinds it may get are valid.
func callType(fn builtin, args []tmask) (tmask, string) {
	name := builtinSpecs[fn].name
	switch fn {
	case bFloat, bInt:
		if args[0]&(mNumeric|mStr) == 0 {
			return 0, name + "() argument must be a string or a number, not " + args[0].describe()
		}
		return mNum, ""
	case bAbs, bRound:
		for i, a := range args {
			if a&mNumeric == 0 {
				return 0, name + "() argument " + itoa(i+1) + " must be a number, not " + a.describe()
			}
		}
		return mNum, ""
	case bMin, bMax:
		var out tmask
		for _, a := range args {
			out |= a
		}
		num, text := true, true
		for _, a := range args {
			num = num && a&mNumeric != 0
			text = text && a&mText != 0
		}
		if !num && !text {
			return 0, name + "() cannot order values of kinds " + out.describe()
		}
		return out, ""
	case bBool:
		return mBool, ""
	}
	return 0, "unknown function"
}

// call applies fn to args; the message is non-empty on a Python error.
func call(fn builtin, args []value) (value, string) {
	name := builtinSpecs[fn].name
	switch fn {
	case bFloat:
		a := args[0]
		switch a.k {
		case kNum, kBool:
			return num(a.n), ""
		case kStr, kMeta:
			if f, ok := parseFloat(a.s); ok {
				return num(f), ""
			}
			return value{}, "could not convert string to float: " + quote(a.s)
		}
		return value{}, "float() argument must be a string or a number, not " + kindName[a.k]
	case bInt:
		a := args[0]
		switch a.k {
		case kNum, kBool:
			if math.IsNaN(a.n) || math.IsInf(a.n, 0) {
				return value{}, "cannot convert float " + fmtNum(a.n) + " to integer"
			}
			return num(math.Trunc(a.n)), ""
		case kStr, kMeta:
			if f, ok := parseInt(a.s); ok {
				return num(f), ""
			}
			return value{}, "invalid literal for int() with base 10: " + quote(a.s)
		}
		return value{}, "int() argument must be a string or a number, not " + kindName[a.k]
	case bAbs:
		f, err := numArg(name, args[0])
		if err != "" {
			return value{}, err
		}
		return num(math.Abs(f)), ""
	case bRound:
		f, err := numArg(name, args[0])
		if err != "" {
			return value{}, err
		}
		if len(args) == 1 {
			r, err := pyRound(f)
			return num(r), err
		}
		if args[1].k == kNone {
			r, err := pyRound(f)
			return num(r), err
		}
		n, err := numArg(name, args[1])
		if err != "" {
			return value{}, err
		}
		if n != math.Trunc(n) || math.IsInf(n, 0) {
			return value{}, "round() ndigits must be an integer"
		}
		return num(pyRoundDigits(f, n)), ""
	case bMin, bMax:
		best := args[0]
		for _, a := range args[1:] {
			var less bool
			var err string
			if fn == bMin {
				less, err = order(cmpLT, a, best)
			} else {
				less, err = order(cmpGT, a, best)
			}
			if err != "" {
				return value{}, err
			}
			if less {
				best = a
			}
		}
		return best, ""
	case bBool:
		return boolean(args[0].truth()), ""
	}
	return value{}, "unknown function"
}

func numArg(fn string, v value) (float64, string) {
	if f, ok := v.number(); ok {
		return f, ""
	}
	return 0, "bad operand type for " + fn + "(): " + describeValue(v)
}

package scale

import (
	"math"
	"strconv"
)

// Python's float arithmetic where it differs from Go's operators. The
// algorithms follow CPython's Objects/floatobject.c (float_divmod,
// float_pow) so results match Python bit for bit; integers are floats here,
// exact up to 2**53.

// pyDivmod returns Python's (a // b, a % b) for b != 0.
func pyDivmod(a, b float64) (div, mod float64) {
	mod = math.Mod(a, b)
	div = (a - mod) / b
	if mod != 0 {
		if (b < 0) != (mod < 0) {
			mod += b
			div -= 1
		}
	} else {
		mod = math.Copysign(0, b)
	}
	if div != 0 {
		fl := math.Floor(div)
		if div-fl > 0.5 {
			fl++
		}
		div = fl
	} else {
		div = math.Copysign(0, a/b)
	}
	return div, mod
}

// pyPow is Python's float ** float, with the errors Python raises.
func pyPow(a, b float64) (float64, string) {
	switch {
	case b == 0:
		return 1, ""
	case math.IsNaN(a):
		return a, ""
	case math.IsNaN(b):
		if a == 1 {
			return 1, ""
		}
		return b, ""
	case a == 0 && b < 0:
		return 0, "0.0 cannot be raised to a negative power"
	case a < 0 && !math.IsInf(a, 0) && !math.IsInf(b, 0) && b != math.Trunc(b):
		return 0, "a negative number cannot be raised to a fractional power (the result is complex)"
	}
	if a != 0 && math.Abs(a) < 0x1p-1022 && b != math.Trunc(b) {
		// Go's math.Log is inaccurate for subnormal numbers (2e-308 **
		// (1/3) came out 2% high): scale into the normal range first.
		r, msg := pyPow(a*0x1p54, b)
		if msg != "" {
			return r, msg
		}
		return r * math.Pow(2, -54*b), ""
	}
	r := math.Pow(a, b)
	if math.IsInf(r, 0) && !math.IsInf(a, 0) && !math.IsInf(b, 0) {
		return 0, "numerical result out of range"
	}
	return r, ""
}

// pyRound is Python's round(x) (ndigits omitted: half to even, an int).
func pyRound(x float64) (float64, string) {
	switch {
	case math.IsNaN(x):
		return 0, "cannot convert float NaN to integer"
	case math.IsInf(x, 0):
		return 0, "cannot convert float infinity to integer"
	}
	return math.RoundToEven(x), ""
}

// pyRoundDigits is Python's round(x, n): the float nearest to x rounded
// half to even at n decimal places, taken from x's exact binary value as
// CPython does (correctly rounded decimal conversion).
func pyRoundDigits(x float64, n float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) || x == 0 {
		return x
	}
	switch {
	case n > 323: // beyond any double's digits: unchanged
		return x
	case n < -308: // rounds everything to zero
		return math.Copysign(0, x)
	case n < 0:
		// Round the exact value at a power of ten: scale down exactly
		// enough for 'f' formatting, which is correctly rounded.
		p := math.Pow(10, -n)
		var buf [400]byte
		b := strconv.AppendFloat(buf[:0], x/p, 'f', 0, 64)
		r, _ := strconv.ParseFloat(string(b), 64)
		return r * p
	}
	var buf [800]byte
	b := strconv.AppendFloat(buf[:0], x, 'f', int(n), 64)
	r, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return x
	}
	if r == 0 {
		return math.Copysign(0, x)
	}
	return r
}

// Package scale is the expression language every transformer shares (and
// the http pollster's value expressions): the subset of Python that
// Ceilometer's transformers evaluated with eval(), such as cpu_util's
// "100.0 / (10**9 * (resource_metadata.cpu_number or 1))", with Python's
// semantics where it matters:
//
//   - numbers: int and float literals (1_000, 0x10, 1e9, .5); ints are held
//     as float64, exact up to 2**53;
//   - + - * and true division /; // floor division and % modulo with the
//     sign of the divisor; ** power, right-associative and binding tighter
//     than a unary minus on its left (-2**2 == -4); division, floor division
//     and modulo by zero are errors, as are 0 ** -1 and a negative number
//     to a fractional power (a complex result);
//   - comparisons < <= > >= == !=, chained (0 < x <= 100);
//   - and, or, not, with Python's operand-returning and/or
//     (resource_metadata.cpu_number or 1 is the metadata value when it is
//     true, else 1), and x if cond else y;
//   - the built-ins float, int, abs, min, max, round (half to even) and bool;
//   - strings in single or double quotes, True, False, None.
//
// A Compile expression reads one sample's fields by the names Ceilometer's
// Sample.as_dict() gave them (volume, name, type, unit, resource_id, ...),
// and its metadata as resource_metadata.key or resource_metadata["a.b"]
// (metadata is an alias). Metadata values are strings on the wire: one that
// parses as a number acts as that number in arithmetic, comparisons with
// numbers, and truth tests; a missing key is false, as Ceilometer's empty
// Namespace was. A CompileMeters expression (the arithmetic transformer)
// reads $(meter.name), the volume of that meter's sample, and
// $(meter.name).field.
//
// Everything that can be decided before a sample arrives is a compile
// *Error with the column: syntax, unknown names and functions, operations
// no input can make valid (volume * name), constant errors (1 / 0), and
// the limits (MaxLen bytes, nodes, nesting). What depends on a sample is an
// *EvalError for that sample, and a result must be a finite number.
// Constant sub-expressions are folded once; evaluation walks the remaining
// nodes without allocating.
//
// It must not import host/.
package scale

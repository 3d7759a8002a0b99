package rule

import (
	"errors"
	"fmt"
)

// FieldError is a validation error naming the offending field as Aodh names
// it ("threshold_rule.comparison_operator", "time_constraints[0].timezone",
// "type"). The API answers it with 400.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// ErrUnsupported is returned by a Source that cannot answer a kind of query
// (for example a Source without PromQL for a prometheus rule).
var ErrUnsupported = errors.New("not supported by this source")

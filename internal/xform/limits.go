package xform

import (
	"errors"
	"fmt"
	"time"

	"github.com/altimeter/altimeter/sdk/schema"
)

// Duration parses a duration attribute that must lie in [lo, hi].
func Duration(attr, s string, lo, hi time.Duration) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, schema.AttrError(attr, fmt.Sprintf("must be a duration such as \"10m\" or \"1h\", not %q", s))
	}
	if d < lo || d > hi {
		return 0, schema.AttrError(attr, fmt.Sprintf("must be between %s and %s, not %s", lo, hi, d))
	}
	return d, nil
}

// Count checks an integer attribute lies in [lo, hi].
func Count(attr string, n, lo, hi int) error {
	if n < lo || n > hi {
		return schema.AttrError(attr, fmt.Sprintf("must be between %d and %d, not %d", lo, hi, n))
	}
	return nil
}

// Errors collects a constructor's attribute errors, so that every bad
// attribute is reported at once.
type Errors []error

// Add keeps err if it is not nil.
func (e *Errors) Add(err error) {
	if err != nil {
		*e = append(*e, err)
	}
}

// Err joins what was kept, or is nil.
func (e Errors) Err() error { return errors.Join(e...) }

package alarm

import (
	"errors"
	"fmt"
)

// Sentinel errors of the alarm service. The API maps them to status codes.
var (
	// ErrUnknownAlarm means no alarm has the id (or it belongs to another
	// project: a member never learns that it exists).
	ErrUnknownAlarm = errors.New("alarm not found")
	// ErrConflict means the state refuses the change: a duplicate name in the
	// project (409, as Aodh), the alarm limit, a stale transition.
	ErrConflict = errors.New("conflict")
	// ErrInvalid wraps every validation error (400).
	ErrInvalid = errors.New("invalid alarm")
)

// FieldError is a validation error naming the field, in Aodh's words.
type FieldError struct {
	Field string
	Value string
	Msg   string
}

func (e *FieldError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("Invalid input for field/attribute %s. %s", e.Field, e.Msg)
	}
	return fmt.Sprintf("Invalid input for field/attribute %s. Value: '%s'. %s", e.Field, e.Value, e.Msg)
}

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *FieldError) Unwrap() error { return ErrInvalid }

func fieldErr(field, value, msg string) error {
	if len(value) > 64 {
		value = value[:64] + "..."
	}
	return &FieldError{Field: field, Value: value, Msg: msg}
}

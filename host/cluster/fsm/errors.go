package fsm

import "errors"

// Sentinel errors a command returns when the state refuses it. They travel
// between members as codes (Code, FromCode), so errors.Is works on the
// member that proposed the command, whichever member applied it first.
var (
	// ErrNotFound means the command names something the state lacks.
	ErrNotFound = errors.New("not found")
	// ErrConflict means the command collides with the state (a duplicate
	// id, a stale epoch).
	ErrConflict = errors.New("conflict")
	// ErrInvalid means the command's content is invalid.
	ErrInvalid = errors.New("invalid command")
)

// Code names the sentinel err wraps, for the wire: "not_found", "conflict",
// "invalid", or "internal".
func Code(err error) string {
	switch {
	case errors.Is(err, ErrNotFound):
		return "not_found"
	case errors.Is(err, ErrConflict):
		return "conflict"
	case errors.Is(err, ErrInvalid):
		return "invalid"
	}
	return "internal"
}

// FromCode rebuilds an error sent as (code, message) so that errors.Is
// matches the sentinel again.
func FromCode(code, msg string) error {
	if msg == "" {
		msg = code
	}
	switch code {
	case "not_found":
		return &remoteError{msg: msg, is: ErrNotFound}
	case "conflict":
		return &remoteError{msg: msg, is: ErrConflict}
	case "invalid":
		return &remoteError{msg: msg, is: ErrInvalid}
	}
	return errors.New(msg)
}

type remoteError struct {
	msg string
	is  error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.is }

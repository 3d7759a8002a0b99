package index

import "errors"

// Sentinel errors; the host/store facade maps them to its own.
var (
	// ErrNotFound means the resource (or the event marker) does not exist.
	ErrNotFound = errors.New("not found")
	// ErrInvalid means a request or an update cannot be served as given: an
	// unknown trait operator or type, an unparsable trait value, a negative
	// limit, an update without a resource id or time.
	ErrInvalid = errors.New("invalid request")
)

package archive

import "errors"

// Sentinel errors; the API maps them to 404 and 400.
var (
	ErrNotFound = errors.New("not found")
	ErrInvalid  = errors.New("invalid")
)

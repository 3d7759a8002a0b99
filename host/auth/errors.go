package auth

import "errors"

// Sentinel errors besides ErrUnauthorized (principal.go).
var (
	// ErrUnknownToken means Revoke was given an ID that no token has.
	ErrUnknownToken = errors.New("unknown token")
	// ErrInvalidArgument means Create was given a bad role or project.
	ErrInvalidArgument = errors.New("invalid argument")
)

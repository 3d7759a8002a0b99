package auth

import "errors"

// Sentinel errors besides ErrUnauthorized (principal.go).
var (
	// ErrUnknownToken means Revoke was given an ID that no token has.
	ErrUnknownToken = errors.New("unknown token")
	// ErrInvalidArgument means Create was given a bad role or project.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrNotReady means the token state is still loading (a restarted
	// member replaying its log): a token not found yet may still be
	// valid, so the request is refused as unavailable (503), not as
	// unauthorized (401).
	ErrNotReady = errors.New("token state not loaded yet")
)

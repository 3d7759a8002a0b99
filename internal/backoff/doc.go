// Package backoff is the one exponential backoff of the host and the plugins:
// a delay that starts at a minimum and doubles up to a maximum, either by
// attempt number (Delay) or as a running value a retry loop advances (Exp),
// and a sleep that ends early when its context does. No jitter: every retrying
// party here is a single process retrying its own peer. It imports nothing
// but the standard library, so plugins stay light.
package backoff

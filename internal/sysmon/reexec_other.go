//go:build !unix

package sysmon

// Reexec does nothing where the process cannot re-execute itself in place.
func Reexec() error { return nil }

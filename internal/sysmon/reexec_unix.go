//go:build unix

package sysmon

import (
	"fmt"
	"os"
	"syscall"
)

// Reexec replaces the running program with itself (same process id,
// arguments and environment) with Setting added to GODEBUG. It returns nil
// without doing anything when GODEBUG sets schedtrace already (as it does
// once re-executed), and an error if the exec failed: the program then goes
// on as it is. Call it first thing, before the program starts anything.
func Reexec() error {
	env, ok := Env(os.Environ())
	if !ok {
		return nil
	}
	// The binary's path, not /proc/self/exe: the process's name (comm,
	// what ps and pidof show) is the base name of the path executed.
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("re-execute with GODEBUG=%s: %w", Setting, err)
	}
	if err := syscall.Exec(exe, os.Args, env); err != nil {
		return fmt.Errorf("re-execute %s with GODEBUG=%s: %w", exe, Setting, err)
	}
	return nil
}

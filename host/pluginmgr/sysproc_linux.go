package pluginmgr

import (
	"errors"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// setSysProcAttr puts the plugin in a process group of its own, so that
// killGroup ends it together with every child it forked (a child that
// inherited the stdout and stderr pipes would otherwise keep go-plugin
// waiting for them to close, and outlive the plugin as an orphan). It also
// makes the kernel SIGKILL the plugin when the host dies, a second line of
// defence behind the SDK's parent-pid watch. Pdeathsig is tied to the OS
// thread that forked the child; the Go runtime keeps its threads alive
// unless a goroutine exits while locked to one, which this package never
// does.
//
// The returned int receives a pidfd of the child once cmd has started (-1
// when the kernel has none); it belongs to the caller (see watchLeader).
func setSysProcAttr(cmd *exec.Cmd) *int {
	pidfd := -1
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true, PidFD: &pidfd}
	return &pidfd
}

// killGroup SIGKILLs every process in the process group whose leader is
// pid (the plugin started with setSysProcAttr). A group that is already
// gone is not an error. pid must be the plugin's: kill(-1) would signal
// every process we may signal, so pids below 2 are refused.
func killGroup(pid int) error {
	if pid < 2 {
		return nil
	}
	err := syscall.Kill(-pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// watchLeader calls onExit once the process behind pidfd has exited, and
// closes pidfd. It waits with WNOWAIT, so the process stays a zombie for
// go-plugin to reap, and its pid (the group id) cannot be reused while
// onExit runs. It reports false, closing pidfd, when the kernel cannot wait
// on a pidfd (Linux before 5.4).
func watchLeader(pidfd int, onExit func()) bool {
	if pidfd < 0 {
		return false
	}
	// Probe without blocking: EINVAL means no P_PIDFD support.
	err := unix.Waitid(unix.P_PIDFD, pidfd, nil, unix.WEXITED|unix.WNOWAIT|unix.WNOHANG, nil)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		_ = unix.Close(pidfd)
		return false
	}
	go func() {
		defer func() { _ = unix.Close(pidfd) }()
		for {
			err := unix.Waitid(unix.P_PIDFD, pidfd, nil, unix.WEXITED|unix.WNOWAIT, nil)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			// nil: exited (a zombie until reaped); ECHILD: already reaped.
			onExit()
			return
		}
	}()
	return true
}

package pluginmgr

import (
	"os/exec"
	"syscall"
)

// setSysProcAttr makes the kernel SIGKILL the plugin when the host dies, a
// second line of defence behind the SDK's parent-pid watch. Pdeathsig is
// tied to the OS thread that forked the child; the Go runtime keeps its
// threads alive unless a goroutine exits while locked to one, which this
// package never does.
func setSysProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

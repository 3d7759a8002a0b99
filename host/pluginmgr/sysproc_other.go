//go:build !linux

package pluginmgr

import "os/exec"

func setSysProcAttr(*exec.Cmd) *int {
	pidfd := -1
	return &pidfd
}

func killGroup(int) error { return nil }

func watchLeader(int, func()) bool { return false }

//go:build !linux

package pluginmgr

import "os/exec"

func setSysProcAttr(*exec.Cmd) {}

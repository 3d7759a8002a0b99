//go:build !linux

package pluginmgr

import (
	"io/fs"
	"time"
)

// Permission checks are Linux only (the platform the agent supports).

func (m *Manager) checkPerms(string, fs.FileInfo, string, Policy) error { return nil }

func (m *Manager) checkDir(string, Policy) error { return nil }

func fileChanged(fs.FileInfo) (uint64, time.Time) { return 0, time.Time{} }

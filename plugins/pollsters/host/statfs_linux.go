//go:build linux

package main

import (
	"fmt"
	"syscall"
)

// statfs reports a filesystem's size and used space (size - free, as df
// counts it: blocks reserved for root count as free).
func statfs(path string) (fsUsage, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return fsUsage{}, fmt.Errorf("statfs %s: %w", path, err)
	}
	bs := uint64(st.Frsize)
	if bs == 0 {
		bs = uint64(st.Bsize)
	}
	return fsUsage{totalKB: st.Blocks * bs / 1024, usedKB: sub(st.Blocks, st.Bfree) * bs / 1024}, nil
}

//go:build !linux

package main

import (
	"errors"
	"fmt"
)

// statfs is only implemented on Linux; elsewhere the disk meters report a
// ResourceError per mount (and /proc does not exist anyway).
func statfs(path string) (fsUsage, error) {
	return fsUsage{}, fmt.Errorf("statfs %s: %w", path, errors.ErrUnsupported)
}

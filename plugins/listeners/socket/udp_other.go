//go:build !linux

package main

import (
	"errors"
	"syscall"
)

var errNotLinux = errors.New("only on Linux")

func udpKernelDrops(syscall.RawConn) (uint64, error) { return 0, errNotLinux }

func udpReadBuffer(syscall.RawConn) (int, error) { return 0, errNotLinux }

func rmemMax() int { return 0 }

package main

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// udpKernelDrops returns how many datagrams the kernel dropped for the
// socket since it was opened: sk_drops, mostly datagrams that found the
// receive buffer full, the number /proc/net/udp shows in its drops column.
// It reads it with SO_MEMINFO (Linux 4.6+), at any time, not only when a
// datagram arrives as SO_RXQ_OVFL would.
func udpKernelDrops(rc syscall.RawConn) (uint64, error) {
	var (
		info [unix.SK_MEMINFO_VARS]uint32
		serr error
	)
	err := rc.Control(func(fd uintptr) {
		l := uint32(unsafe.Sizeof(info))
		_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, fd, unix.SOL_SOCKET, unix.SO_MEMINFO,
			uintptr(unsafe.Pointer(&info[0])), uintptr(unsafe.Pointer(&l)), 0)
		if e != 0 {
			serr = e
		}
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return 0, err
	}
	return uint64(info[unix.SK_MEMINFO_DROPS]), nil
}

// udpReadBuffer returns the socket's receive buffer as the kernel holds it
// (SO_RCVBUF): Linux doubles what it is asked for, for its bookkeeping,
// after capping the request at net.core.rmem_max.
func udpReadBuffer(rc syscall.RawConn) (int, error) {
	var (
		n    int
		serr error
	)
	err := rc.Control(func(fd uintptr) { n, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF) })
	if err == nil {
		err = serr
	}
	return n, err
}

// rmemMax is net.core.rmem_max, the largest receive buffer an unprivileged
// SO_RCVBUF gets; 0 when unknown.
func rmemMax() int {
	raw, err := os.ReadFile("/proc/sys/net/core/rmem_max")
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
	return n
}

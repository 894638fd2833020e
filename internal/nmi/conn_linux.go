//go:build linux

package nmi

import (
	"errors"
	"net"

	"golang.org/x/sys/unix"
)

// PeerCred returns the credentials of the process at the other end of a
// UNIX socket (SO_PEERCRED), as they were when it connected.
func PeerCred(conn *net.UnixConn) (uid, gid uint32, pid int32, err error) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return 0, 0, 0, err
	}
	var cred *unix.Ucred
	var serr error
	if err := rc.Control(func(fd uintptr) {
		cred, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return 0, 0, 0, err
	}
	if serr != nil {
		return 0, 0, 0, serr
	}
	return cred.Uid, cred.Gid, cred.Pid, nil
}

// pendingInput reports whether the peer has sent bytes (or closed) while
// nothing was asked of it, without blocking and without consuming them.
func pendingInput(conn *net.UnixConn) (bool, error) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return false, err
	}
	var buf [1]byte
	var rerr error
	if err := rc.Read(func(fd uintptr) bool {
		_, _, rerr = unix.Recvfrom(int(fd), buf[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		return true
	}); err != nil {
		return false, err
	}
	switch {
	case errors.Is(rerr, unix.EAGAIN):
		return false, nil
	case rerr != nil:
		return false, rerr
	}
	return true, nil // data, or 0 bytes: the peer closed
}

//go:build linux

package nmi

import (
	"errors"
	"net"
	"syscall"

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

// peekIdle looks at what the peer sent on a connection that should be
// silent, without blocking and without consuming it: up to len(buf) bytes
// are copied to buf. pending is false when nothing arrived; n == 0 with
// pending set means the peer closed. A connection that offers no socket
// (syscall.Conn) is not looked at: nothing pending.
//
// The look goes through Control, not Read: RawConn.Read fails at once
// when the socket's read deadline has passed, and the deadline of the
// connection's last exchange stays set while it idles. A connection idle
// for longer than that deadline is still good.
func peekIdle(conn net.Conn, buf []byte) (n int, pending bool, err error) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return 0, false, nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, false, err
	}
	var rerr error
	if err := rc.Control(func(fd uintptr) {
		n, _, rerr = unix.Recvfrom(int(fd), buf, unix.MSG_PEEK|unix.MSG_DONTWAIT)
	}); err != nil {
		return 0, false, err
	}
	switch {
	case errors.Is(rerr, unix.EAGAIN):
		return 0, false, nil
	case rerr != nil:
		return 0, false, rerr
	}
	return n, true, nil
}

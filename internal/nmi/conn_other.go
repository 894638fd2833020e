//go:build !linux

package nmi

import (
	"errors"
	"net"
)

// PeerCred is implemented on Linux only.
func PeerCred(conn *net.UnixConn) (uid, gid uint32, pid int32, err error) {
	return 0, 0, 0, errors.New("nmi: peer credentials are supported on Linux only")
}

// peekIdle cannot look ahead here; an idle connection is assumed fine.
func peekIdle(conn net.Conn, buf []byte) (n int, pending bool, err error) { return 0, false, nil }

//go:build !linux

package ikedsim

import (
	"errors"
	"net"
)

// peerUID is not available here: peers are unknown users, allowed only
// when no policy is configured.
func peerUID(net.Conn) (uint32, error) {
	return 0, errors.New("peer credentials are not supported on this system")
}

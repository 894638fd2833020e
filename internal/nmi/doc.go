// Package nmi speaks the z/OS Communications Server IPSec network
// management interface (NMI) served by the IKE daemon on an AF_UNIX stream
// socket.
package nmi

// Package ikedsim is a simulated z/OS IKE daemon: it serves the IPSec
// network management interface (NMI) on an AF_UNIX stream socket from a
// state model of TCP/IP stacks, filter sets, IKE, dynamic and manual
// tunnels, NAT traversal port translations and their counters.
//
// The model is described by a DataSet: the built-in Demo, a YAML file
// (LoadDataSet) or a generated one (Generate). Times in a DataSet are
// relative to its Epoch; a model started at time T shifts them so that
// Epoch becomes T. Time then moves with the configured clock: counters of
// active tunnels grow (while the stack's policy filter set is in effect),
// security associations expire, and those marked for automatic refresh are
// replaced by a new generation.
//
// With Config.NSS the server plays the NSS server instead (IBM's
// /var/sock/nss): the stacks of several systems (an NSSDataSet: a YAML
// file, LoadNSSDataSet, or GenerateNSS) are its clients, listed by
// NMsec_GET_CLIENTINFO, and every other IPSec request is routed by its
// target to the named client's stack, whose model answers it as IKED
// would. Clients connect and disconnect on demand (SetClientConnected)
// and over time (Config.NSSChurn).
package ikedsim

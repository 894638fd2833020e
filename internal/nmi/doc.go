// Package nmi speaks the z/OS Communications Server IPSec network
// management interface (NMI) served by the IKE daemon on an AF_UNIX stream
// socket. The client runs over any net.Conn; DialUnix makes the dial
// function for that socket.
//
// # Which layout this build speaks
//
// IBM's header EZBNMSEC was not available when this package was written.
// The build speaks interface version 1 of the project's contract
// (shared/nmi): IBM's published section prefixes, byte-exact (NMsecStack
// flags and name, NMsecStatistics phase 1 counters, NMsecInterface,
// NMsecNSS, NMsecIKETunnel flags, NMsecIPTunnel offsets 0-101, NMsecTunnel
// offsets 0-96, the tunnel status, reason codes 1-8), followed by the
// project's PROPOSED remainder: the message and record headers, the
// descriptors, every numeric request code, the input filter, the
// policy source, the sections IBM's pages do not show, and reason codes
// 9-12. It does not interoperate with a real IKED beyond the IBM prefixes.
// Every number is in layout.go, each marked IBM or PROPOSED, so that the
// correction against the real header is a one-file change.
//
// # Pieces
//
//   - Text: IBM-1047 text in fixed fields (PutText, Text, TextEqual, Text8..Text48).
//   - Framing: Header, Record and RecordDecoder (decoding), RecordBuilder,
//     AppendRecord, AppendMessage (encoding). Decoders never trust a length
//     they have not checked against the bytes present, and return
//     *FormatError carrying the reason code a server answers with.
//   - Sections (Stack, IPFilter, IKETunnel, ...) with AppendBinary and
//     UnmarshalBinary; typed records (FilterRecord, IKETunnelRecord, ...)
//     with Decode and Append.
//   - Requests: AppendRequest (client), ReadMessage and DecodeRequest (server).
//   - Client (NewClient: one exchange at a time over one net.Conn) and Pool
//     (connections from PoolConfig.Dial, for example DialUnix; while the
//     endpoint is down a background prober alone dials it, and an exchange
//     whose answer does not start, or stops, for ExchangeTimeout is
//     abandoned; it never holds more than its size of connections open).
//   - Errors: *OpError (transport, Op names the step), *StatusError (what
//     the NMI answered), *UnavailableError (the endpoint is down: the pool
//     refuses until a probe is answered), *FormatError; Classify tells
//     them apart for callers.
package nmi

package nmi

import "encoding/binary"

// SetCorrelator stores c in the NMsMCorrelator field of the message whose
// header starts msg, leaving every other byte as it is (a replayed answer
// keeps the bytes the server sent). msg must hold at least HdrSize bytes.
func SetCorrelator(msg []byte, c uint32) {
	binary.BigEndian.PutUint32(msg[offMCorrelator:offMCorrelator+4], c)
}

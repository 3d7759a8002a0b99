package sample

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
)

// NewMessageID returns a random (version 4) UUID, the form Ceilometer gives
// message_id. Samples rarely want one: a sample whose source has no natural
// unique id leaves MessageID empty and the store derives its id from
// series and timestamp (see Sample.MessageID), whereas a random id would
// make a sample delivered twice two samples. It is for what must carry an
// id of its own whatever its content, such as an Event without one.
func NewMessageID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return FormatUUID(b)
}

// FormatUUID renders 16 bytes in the canonical 8-4-4-4-12 lower-case hex
// form. It does not set version or variant bits.
func FormatUUID(u [16]byte) string {
	var out [36]byte
	hex.Encode(out[0:8], u[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], u[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], u[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], u[8:10])
	out[23] = '-'
	hex.Encode(out[24:], u[10:])
	return string(out[:])
}

// contentNamespace is the UUID namespace of ContentID (a random v4 UUID
// fixed for Altimeter).
var contentNamespace = [16]byte{0x6f, 0x1d, 0x3c, 0x52, 0x8e, 0x0b, 0x4a, 0x7e, 0x9d, 0x21, 0x5b, 0xc8, 0x44, 0x90, 0x13, 0xa6}

// ContentID returns a message id for s made from what identifies the
// measurement: its series (Name, Type, Unit, ResourceID, ProjectID, UserID,
// Source) and Timestamp to the microsecond, as a name-based (version 5)
// UUID. A publisher whose format needs a message_id (Ceilometer's metering
// messages) gives it to a sample without one, so the same measurement sent
// twice (a retry, a replay after a restart) carries the same id and a
// receiver that deduplicates by id keeps it once, as the store would. (Not
// version 8: the store's canonical ids are version 8 and name a series and
// time of its own.)
func ContentID(s *Sample) string {
	h := sha1.New() //nolint:gosec // UUID version 5 is SHA-1 by definition; not a security use
	h.Write(contentNamespace[:])
	for _, f := range []string{s.Name, s.Type.String(), s.Unit, s.ResourceID, s.ProjectID, s.UserID, s.Source} {
		var n [4]byte
		binary.LittleEndian.PutUint32(n[:], uint32(len(f))) //nolint:gosec // field lengths are small
		h.Write(n[:])
		h.Write([]byte(f))
	}
	var ts [8]byte
	binary.LittleEndian.PutUint64(ts[:], uint64(s.Timestamp.UnixMicro())) //nolint:gosec // a timestamp's bits
	h.Write(ts[:])
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50 // version 5: name-based, SHA-1
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return FormatUUID(u)
}

package sample

import (
	"crypto/rand"
	"crypto/sha256"
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

// ContentID returns a message id for s made from what identifies the
// measurement: its series (Name, Type, Unit, ResourceID, ProjectID, UserID,
// Source) and Timestamp to the microsecond, hashed into a version 8 UUID.
// A publisher whose format needs a message_id (Ceilometer's metering
// messages) gives it to a sample without one, so the same measurement sent
// twice (a retry, a replay after a restart) carries the same id and a
// receiver that deduplicates by id keeps it once, as the store would.
func ContentID(s *Sample) string {
	h := sha256.New()
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
	u[6] = u[6]&0x0f | 0x80 // version 8: custom
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return FormatUUID(u)
}

package sample

import (
	"crypto/rand"
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

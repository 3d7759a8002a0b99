package store

import (
	"encoding/hex"
	"strings"

	"github.com/altimeter/altimeter/sdk/sample"
)

// A sample written without a message_id gets a canonical one derived from
// where it is stored: its series and its timestamp, packed into a version 8
// (RFC 9562 "custom") UUID. The id costs nothing on disk, it is unique
// because (series, timestamp) is (a second sample with both equal is a
// duplicate), and GET /v2/samples/{id} finds the sample from the id alone.
//
// Layout of the 128 bits: series id bits 59..12 (48 bits), version nibble 8,
// series id bits 11..0, variant 0b10, timestamp in unix microseconds
// (62 bits, non-negative).

// locatorID returns the canonical message_id of sample (series, t).
func locatorID(series uint64, t int64) string {
	var b [16]byte
	hi := (series>>12)<<16 | 0x8<<12 | series&0xfff
	lo := uint64(t)&(1<<62-1) | 0b10<<62
	for i := 0; i < 8; i++ {
		b[i] = byte(hi >> (56 - 8*i))
		b[8+i] = byte(lo >> (56 - 8*i))
	}
	return sample.FormatUUID(b)
}

// parseLocator reverses locatorID; ok is false for any other string
// (including UUIDs of other versions).
func parseLocator(id string) (series uint64, t int64, ok bool) {
	if len(id) != 36 || id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-' {
		return 0, 0, false
	}
	raw, err := hex.DecodeString(strings.ReplaceAll(id, "-", ""))
	if err != nil || len(raw) != 16 {
		return 0, 0, false
	}
	var hi, lo uint64
	for i := 0; i < 8; i++ {
		hi = hi<<8 | uint64(raw[i])
		lo = lo<<8 | uint64(raw[8+i])
	}
	if hi>>12&0xf != 0x8 || lo>>62 != 0b10 {
		return 0, 0, false
	}
	series = (hi>>16)<<12 | hi&0xfff
	t = int64(lo & (1<<62 - 1))
	if id != locatorID(series, t) { // reject upper case and other spellings
		return 0, 0, false
	}
	return series, t, true
}

package series

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/altimeter/altimeter/host/store/series/chunk"
)

// Key prefixes.
const (
	pMeta   = 0x00
	pChunk  = 'c'
	pEpoch  = 'e'
	pScope  = 'g'
	pHead   = 'h'
	pMsgID  = 'i'
	pKey    = 'k'
	pStats  = 'n'
	pRollup = 'r'
)

var metaWindow = []byte{pMeta, 'w'}

// ord maps an int64 to a uint64 with the same order.
func ord(t int64) uint64 { return uint64(t) ^ (1 << 63) }

func unord(u uint64) int64 { return int64(u ^ (1 << 63)) }

func idKey(p byte, id ID) []byte {
	b := make([]byte, 9)
	b[0] = p
	binary.BigEndian.PutUint64(b[1:], uint64(id))
	return b
}

// timeKey is p|id|t.
func timeKey(p byte, id ID, t int64) []byte {
	b := make([]byte, 17, 17+36)
	b[0] = p
	binary.BigEndian.PutUint64(b[1:], uint64(id))
	binary.BigEndian.PutUint64(b[9:], ord(t))
	return b
}

// appendTimeKey appends p|id|t to b.
func appendTimeKey(b []byte, p byte, id ID, t int64) []byte {
	b = append(b, p)
	b = binary.BigEndian.AppendUint64(b, uint64(id))
	return binary.BigEndian.AppendUint64(b, ord(t))
}

// appendRollupKey appends r|scope|gran|bucket to b.
func appendRollupKey(b []byte, scope ID, gran, bucket int64) []byte {
	b = append(b, pRollup)
	b = binary.BigEndian.AppendUint64(b, uint64(scope))
	b = binary.BigEndian.AppendUint64(b, uint64(gran))
	return binary.BigEndian.AppendUint64(b, ord(bucket))
}

func parseHeadKey(k []byte) (id ID, t int64, msgID string, err error) {
	if len(k) < 17 || k[0] != pHead {
		return 0, 0, "", fmt.Errorf("parse head key %x: %w", k, errCorrupt)
	}
	return ID(binary.BigEndian.Uint64(k[1:])), unord(binary.BigEndian.Uint64(k[9:])), string(k[17:]), nil
}

// rollupKey is r|scope|gran|bucket.
func rollupKey(scope ID, gran, bucket int64) []byte {
	b := make([]byte, 25)
	b[0] = pRollup
	binary.BigEndian.PutUint64(b[1:], uint64(scope))
	binary.BigEndian.PutUint64(b[9:], uint64(gran))
	binary.BigEndian.PutUint64(b[17:], ord(bucket))
	return b
}

// epochKey is e|epoch: the record time of the samples of one write.
func epochKey(ep int64) []byte { return appendEpochKey(make([]byte, 0, 9), ep) }

// appendEpochKey appends e|epoch to b.
func appendEpochKey(b []byte, ep int64) []byte {
	return binary.BigEndian.AppendUint64(append(b, pEpoch), uint64(ep))
}

// Message-id index keys. A message id is unique per project, not across
// projects (one project must not pre-empt or probe another's ids), so the
// key holds both, id first, so that the entries of one id in every project
// share a prefix (msgPrefix): i|2|uuid (16 bytes)|project for a canonical
// UUID, i|3|uvarint(len(id))|id|project otherwise. The value is the series
// id and the time (16 bytes).
//
// Stores written before per-project ids hold i|0|uuid and i|1|id (one
// entry per id, whatever the project); Open rewrites them
// (migrateMsgKeys).
const (
	msgLegacyUUID = 0
	msgLegacyRaw  = 1
	msgUUID       = 2
	msgRaw        = 3
)

// msgPrefix is the part of msgKey before the project.
func msgPrefix(msgID string) []byte {
	if u, ok := chunk.ParseUUID(msgID); ok {
		return append([]byte{pMsgID, msgUUID}, u[:]...)
	}
	b := binary.AppendUvarint([]byte{pMsgID, msgRaw}, uint64(len(msgID)))
	return append(b, msgID...)
}

// msgKey is the index key of msgID in project.
func msgKey(project, msgID string) []byte {
	return append(msgPrefix(msgID), project...)
}

// parseLegacyMsgKey returns the message id of an i|0 or i|1 key.
func parseLegacyMsgKey(k []byte) (string, error) {
	switch {
	case len(k) == 18 && k[1] == msgLegacyUUID:
		return chunk.FormatUUID([16]byte(k[2:])), nil
	case len(k) > 2 && k[1] == msgLegacyRaw:
		return string(k[2:]), nil
	}
	return "", fmt.Errorf("parse message id key %x: %w", k, errCorrupt)
}

var errCorrupt = errors.New("corrupt record")

// encodeKey writes the seven strings length-prefixed.
func encodeKey(k Key) []byte {
	var b []byte
	for _, s := range [...]string{k.Meter, k.Type, k.Unit, k.ResourceID, k.ProjectID, k.UserID, k.Source} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

func decodeStrings(b []byte, n int) ([]string, error) {
	out := make([]string, n)
	for i := range out {
		l, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < l {
			return nil, errCorrupt
		}
		out[i] = string(b[k : k+int(l)])
		b = b[k+int(l):]
	}
	return out, nil
}

func decodeKey(b []byte) (Key, error) {
	s, err := decodeStrings(b, 7)
	if err != nil {
		return Key{}, err
	}
	return Key{Meter: s[0], Type: s[1], Unit: s[2], ResourceID: s[3], ProjectID: s[4], UserID: s[5], Source: s[6]}, nil
}

// encodeStats writes the packed samples' first, last and count, and the
// max time seen.
func encodeStats(first, last, count, maxT int64) []byte {
	b := make([]byte, 0, 32)
	b = binary.AppendVarint(b, first)
	b = binary.AppendVarint(b, last)
	b = binary.AppendVarint(b, count)
	return binary.AppendVarint(b, maxT)
}

func decodeStats(b []byte, s *series) error {
	var v [4]int64
	for i := range v {
		x, k := binary.Varint(b)
		if k <= 0 {
			return errCorrupt
		}
		v[i], b = x, b[k:]
	}
	s.cFirst, s.cLast, s.cCount, s.maxT, s.hasMax = v[0], v[1], v[2], v[3], true
	return nil
}

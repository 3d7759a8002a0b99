package xform

import (
	"crypto/sha256"
	"strings"

	"github.com/altimeter/altimeter/sdk/sample"
)

// IDs derives the message ids of a transformer's output from its inputs':
// the same input (a redelivery) gives the same id, so a store that already
// has the output keeps it once, and different inputs or different
// transformers give different ids. Ceilometer made a new random id for each
// derived sample.
type IDs struct {
	key [16]byte
	// Random, when set, makes the id of an output whose input has none
	// (tests: deterministic ids); sample.NewMessageID otherwise.
	Random func() string
}

// NewIDs returns the derivation for one transformer; parts identify it
// (its kind and output name), so two transformers derive different ids
// from one input.
func NewIDs(parts ...string) IDs {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	var d IDs
	copy(d.key[:], sum[:16])
	return d
}

// Derive returns the id of the output made from an input with message id
// in. A canonical UUID is XORed with the transformer's key (one-to-one, so
// distinct inputs never share an output id) and marked version 4; any other
// id is hashed with the key; an empty id gives a random one.
//
// Version 4 ("random"), because without the key the id is
// indistinguishable from a random one; not version 8, which the store
// reserves for its canonical series-and-time ids (host/store/locator.go):
// a derived id would be read there as a place in a series.
func (d IDs) Derive(in string) string {
	if in == "" {
		if d.Random != nil {
			return d.Random()
		}
		return sample.NewMessageID()
	}
	var u [16]byte
	if !parseUUID(in, &u) {
		h := sha256.New()
		h.Write(d.key[:])
		h.Write([]byte(in))
		var sum [sha256.Size]byte
		copy(u[:], h.Sum(sum[:0]))
	} else {
		for i := range u {
			u[i] ^= d.key[i]
		}
	}
	u[6] = u[6]&0x0f | 0x40 // version 4, not the store's 8
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return sample.FormatUUID(u)
}

// parseUUID decodes the canonical 8-4-4-4-12 hex form.
func parseUUID(s string, u *[16]byte) bool {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return false
	}
	j := 0
	for i := 0; i < 36; {
		if s[i] == '-' {
			i++
			continue
		}
		hi, ok1 := unhex(s[i])
		lo, ok2 := unhex(s[i+1])
		if !ok1 || !ok2 {
			return false
		}
		u[j] = hi<<4 | lo
		j++
		i += 2
	}
	return true
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

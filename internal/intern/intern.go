package intern

import "strings"

// Table is a bounded interning table. The zero value keeps nothing; set
// the bounds with New. Not safe for concurrent use: a decoder keeps its own.
type Table struct {
	strs       map[string]string
	maxEntries int
	maxLen     int
}

// New returns a Table of at most maxEntries strings, each at most maxLen
// bytes long.
func New(maxEntries, maxLen int) Table {
	return Table{maxEntries: maxEntries, maxLen: maxLen}
}

// Bytes returns b as a string, the same string for equal bytes while the
// table keeps it. It never shares memory with b.
func (t *Table) Bytes(b []byte) string {
	if s, ok := t.strs[string(b)]; ok {
		return s
	}
	s := string(b)
	t.keep(s)
	return s
}

// String returns s, or the equal string the table kept: a copy of s
// when the table does not have it, so that the result never shares
// memory with s (which may be a view of a reused buffer).
func (t *Table) String(s string) string {
	if v, ok := t.strs[s]; ok {
		return v
	}
	v := strings.Clone(s)
	t.keep(v)
	return v
}

func (t *Table) keep(s string) {
	if len(s) > t.maxLen || len(t.strs) >= t.maxEntries {
		return
	}
	if t.strs == nil {
		t.strs = make(map[string]string, 64)
	}
	t.strs[s] = s
}

// Len is the number of strings kept.
func (t *Table) Len() int { return len(t.strs) }

package intern

import (
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

func TestTable(t *testing.T) {
	tb := New(2, 8)
	a := tb.Bytes([]byte("cpu"))
	b := tb.String("cpu")
	require.Equal(t, "cpu", b)
	require.Same(t, unsafe.StringData(a), unsafe.StringData(b), "equal strings are one")

	buf := []byte("memory")
	m := tb.Bytes(buf)
	buf[0] = 'X'
	require.Equal(t, "memory", m, "never shares memory with its input")

	// Bounded: a third entry and a long string are returned, not kept.
	require.Equal(t, "disk", tb.String("disk"))
	long := strings.Repeat("x", 9)
	require.Equal(t, long, tb.Bytes([]byte(long)))
	require.Equal(t, 2, tb.Len())

	var zero Table
	require.Equal(t, "a", zero.String("a"))
	require.Zero(t, zero.Len(), "the zero table keeps nothing")
}

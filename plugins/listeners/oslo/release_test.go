package main

import (
	"runtime"
	"strings"
	"testing"
	"weak"

	"github.com/stretchr/testify/require"
)

// TestDecoderKeepsNoBody: once a notification is decoded, the pooled
// decoder holds no reference to its body (jsontext parses it in place), so
// a large body is not kept alive by the pool until the decoder's next use.
func TestDecoderKeepsNoBody(t *testing.T) {
	decode := func() weak.Pointer[byte] {
		body := []byte(`{"event_type": "x", "payload": {"pad": "` + strings.Repeat("a", 1<<20) + `"}}`)
		m, err := decodeObject(body)
		require.NoError(t, err)
		require.Contains(t, m, "payload")
		return weak.Make(&body[0])
	}
	w := decode()
	runtime.GC() // the pool keeps its decoders (as victims) through one collection
	require.Nil(t, w.Value(), "a pooled decoder still holds the body")
}

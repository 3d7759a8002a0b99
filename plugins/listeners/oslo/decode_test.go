package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDecodeObjectAsEncodingJSON holds decodeObject to what encoding/json
// (a Decoder with UseNumber, then More) makes of the same bytes: the same
// values, numbers as sent, invalid UTF-8 and lone surrogates as U+FFFD, a
// repeated name's last value, and the same inputs refused.
func TestDecodeObjectAsEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		`{"a":1}`, `{"a":1.50}`, `{"a":12345678901234567890123}`, `{"a":1e400}`, `{"a":-0}`, `{"a":1E+2}`, `{"a":-1.5e-7}`,
		"{\"a\":\"\xff\xfe\"}", `{"a":"\ud800"}`, `{"a":"\ud83d\ude00"}`, `{"a":"\u0000"}`, `{"a":"\u00e9\n\"\\\/"}`,
		`{"a":1,"a":2}`, `{"a":{"b":1},"a":{"c":2}}`, `{"a":1}  `, " \t\r\n{\"a\":[1,2,{\"b\":null}]} \n",
		`{"a":true,"b":false,"c":null}`, `{"a":[]}`, `{"a":{}}`, `{}`, `{"":1}`, `{"a":[[[[[]]]]]}`,
		// names: escaped, repeated in nested objects (one interned string), too long to intern
		`{"\u00e9t\u00e9":1,"été":2}`, `{"a":{"a":{"a":1}},"b":[{"a":2},{"a":3}]}`, "{\"\xff\":1}",
		`{"` + strings.Repeat("n", 100) + `":1,"` + strings.Repeat("n", 100) + `":2}`,
		// refused by both
		`{"a":1} x`, `{"a":1} {}`, `{"a":01}`, `{"a":.5}`, `{"a":1.}`, `{"a":"x}`, `{"a":1,}`, `{a:1}`, ``, `   `, `{`,
		`{"a":"\x01"}`, "{\"a\":\"tab\there\"}", `{"a":NaN}`, `{"a":-}`, `{"a":1e}`, "\xef\xbb\xbf{}", `{"a" 1}`, `{"a":[1 2]}`,
		`{"a":tru}`, `{"a":nul}`, `{"a":"\u12"}`, `{"event_type":`,
		// not objects: refused by decodeObject, decoded by encoding/json
		`[1]`, `"s"`, `null`, `1`,
	} {
		dec := json.NewDecoder(bytes.NewReader([]byte(in)))
		dec.UseNumber()
		var want any
		err := dec.Decode(&want)
		if err == nil && dec.More() {
			err = errTrailing
		}
		got, gotErr := decodeObject([]byte(in))
		if _, isObject := want.(map[string]any); err == nil && !isObject {
			require.Error(t, gotErr, "%q is not an object", in)
			continue
		}
		if err != nil {
			require.Error(t, gotErr, "%q: encoding/json refuses it (%v)", in, err)
			continue
		}
		require.NoError(t, gotErr, in)
		require.Equal(t, want, any(got), in)
	}
	// Decoder.More reports no more data before a closing bracket, so
	// the old decode let these pass; they are refused now.
	for _, in := range []string{`{"a":1}]`, `{"a":1} }`} {
		_, err := decodeObject([]byte(in))
		require.ErrorContains(t, err, "data after the top-level value", in)
	}
}

var errTrailing = json.Unmarshal([]byte("x"), new(any))

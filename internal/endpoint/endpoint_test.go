package endpoint

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		raw string
		ok  bool
	}{
		{"http://127.0.0.1:8041", true},
		{"https://gnocchi.example/base/", true},
		{"ftp://127.0.0.1", false},
		{"http://", false},
		{"http://u:secret@127.0.0.1", false},
		{"http://127.0.0.1/?x=1", false},
		{"://", false},
	} {
		_, err := ParseBase(tc.raw)
		require.Equal(t, tc.ok, err == nil, tc.raw)
		if err != nil {
			require.NotContains(t, err.Error(), "secret", "credentials are not echoed")
		}
	}
	for _, tc := range []struct {
		s  string
		ok bool
	}{{"30s", true}, {"1ms", true}, {"10m", true}, {"11m", false}, {"0s", false}, {"-1s", false}, {"soon", false}, {"1us", false}} {
		_, err := ParseTimeout(tc.s)
		require.Equal(t, tc.ok, err == nil, tc.s)
	}
}

func TestTransient(t *testing.T) {
	t.Parallel()
	for code, want := range map[int]bool{500: true, 503: true, 408: true, 429: true, 401: true, 403: true, 400: false, 404: false, 409: false, 413: false, 422: false} {
		require.Equal(t, want, Transient(code), code)
	}
}

func TestReadToken(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := filepath.Join(dir, "token")
	require.NoError(t, os.WriteFile(f, []byte("  abc\n"), 0o600))
	tok, err := ReadToken(f)
	require.NoError(t, err)
	require.Equal(t, "abc", tok)
	require.NoError(t, os.WriteFile(f, []byte("\n"), 0o600))
	_, err = ReadToken(f)
	require.ErrorIs(t, err, ErrEmptyToken)
	_, err = ReadToken(filepath.Join(dir, "none"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

// An answer keeps MaxAnswerBytes and the connection is reused after a
// long body.
func TestAnswer(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(strings.Repeat("x", 64<<10)))
	}))
	defer srv.Close()
	c, err := Client(5*time.Second, "", "", "")
	require.NoError(t, err)
	for range 2 {
		resp, err := c.Get(srv.URL)
		require.NoError(t, err)
		require.Len(t, Answer(resp), MaxAnswerBytes)
		require.NoError(t, resp.Body.Close())
	}
	resp, err := c.Get(srv.URL)
	require.NoError(t, err)
	whole := ReadAnswer(resp, 1<<20)
	require.NoError(t, resp.Body.Close())
	require.Len(t, whole, 64<<10, "read whole up to its limit")
	require.Len(t, Quote(whole), MaxAnswerBytes+len("…"), "quoted cut")
	require.Equal(t, "short", Quote([]byte(" short\n")))
	_, err = Client(time.Second, filepath.Join(t.TempDir(), "none.pem"), "", "")
	require.Error(t, err)
}

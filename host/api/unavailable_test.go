package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/host/store"
	"github.com/altimeter/altimeter/internal/peer"
)

// syncBuf is a log destination the test reads.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestPostDiskFull posts samples into the real store on a small tmpfs:
// while free space is below the store's minimum the answer is 503 with
// Retry-After and Ceilometer's error envelope (not 500), logged once for
// the episode rather than once per request; once space is back the same
// POST is answered 201 and its samples are stored once.
func TestPostDiskFull(t *testing.T) {
	dir := peer.Tmpfs(t, 24)
	var logs syncBuf
	log := hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Info})
	st, err := store.Open(t.Context(), filepath.Join(dir, "store"), store.Options{Logger: log, MinFree: 8 << 20})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	srv := New(Options{Logger: log, Store: st, Writer: st, Events: st, Auth: testAuth})

	body := `[{"counter_name": "disk.m", "counter_type": "gauge", "counter_unit": "B", "counter_volume": 1,
	  "resource_id": "r1", "project_id": "` + projectA + `", "message_id": "60000000-0000-4000-8000-000000000001"}]`
	filler := peer.Fill(t, dir, peer.Free(t, dir)-4<<20)
	for range 3 {
		rec := call(t, srv, "POST", "/v2/meters/disk.m", tokAdmin, body)
		require.Equal(t, http.StatusServiceUnavailable, rec.Code, rec.Body.String())
		require.Equal(t, retryAfter, rec.Header().Get("Retry-After"))
		var e errorBody
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &e))
		require.Equal(t, "Server", e.ErrorMessage.FaultCode)
		require.Contains(t, e.ErrorMessage.FaultString, "not enough free disk space")
	}
	require.Equal(t, 1, strings.Count(logs.String(), "[ERROR]"), logs.String())

	require.NoError(t, os.Remove(filler))
	for range 2 { // the second POST is a retry of a stored sample
		rec := call(t, srv, "POST", "/v2/meters/disk.m", tokAdmin, body)
		require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	}
	rec := call(t, srv, "GET", "/v2/meters/disk.m", tokAdmin, "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var rows []map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &rows))
	require.Len(t, rows, 1)
}

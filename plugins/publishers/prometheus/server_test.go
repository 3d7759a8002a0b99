package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// newServer serves h on loopback for t and returns its write URL.
func newServer(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL + "/api/v1/write"
}

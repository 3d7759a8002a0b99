package endpoint

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/altimeter/altimeter/internal/tlsconf"
)

// Bounds of a publisher's endpoint.
const (
	// MaxTimeout bounds the timeout of one request.
	MaxTimeout = 10 * time.Minute
	// MaxAnswerBytes is how much of an answer is kept (for an error
	// message); the rest, up to maxDrainBytes, is read and dropped so the
	// connection is reused.
	MaxAnswerBytes = 4 << 10
	maxDrainBytes  = 1 << 20
)

// ErrEmptyToken is a token file or variable that holds nothing.
var ErrEmptyToken = errors.New("empty token")

// ParseBase checks an http(s) base URL without credentials or query.
func ParseBase(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" {
		return nil, fmt.Errorf("must be an http(s):// base URL without credentials or query, got %q", Redact(raw))
	}
	return u, nil
}

// ParseTimeout checks the timeout of one request: a duration from 1ms to
// MaxTimeout.
func ParseTimeout(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Millisecond || d > MaxTimeout {
		return 0, fmt.Errorf("must be a duration from 1ms to %s, e.g. \"30s\", got %q", MaxTimeout, s)
	}
	return d, nil
}

// Client is an http.Client whose requests are bounded by timeout (none
// when 0) and that trusts the CAs of caFile (the system roots when empty),
// presenting certFile and keyFile when set (mutual TLS).
func Client(timeout time.Duration, caFile, certFile, keyFile string) (*http.Client, error) {
	c := &http.Client{Timeout: timeout}
	if caFile == "" && certFile == "" {
		return c, nil
	}
	tc, err := tlsconf.Client(caFile, certFile, keyFile)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	c.Transport = tr
	return c, nil
}

// ReadToken reads a token file, trimmed (it is read for each request, so a
// renewed token is used without a restart).
func ReadToken(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	t := strings.TrimSpace(string(b))
	if t == "" {
		return "", fmt.Errorf("token: %s: %w", file, ErrEmptyToken)
	}
	return t, nil
}

// Answer reads at most MaxAnswerBytes of an answer's body, trimmed, and
// drains the rest (bounded) so the connection is reused.
func Answer(resp *http.Response) string {
	return strings.TrimSpace(string(ReadAnswer(resp, MaxAnswerBytes)))
}

// ReadAnswer reads at most limit bytes of an answer's body, for a caller
// that must understand the answer, not only quote it (Gnocchi's "Unknown
// resources" names every resource of a batch), and drains the rest
// (bounded) so the connection is reused. Quote it with Quote.
func ReadAnswer(resp *http.Response, limit int64) []byte {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, limit))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrainBytes))
	return b
}

// Quote is an answer's body for an error message: trimmed, and cut at
// MaxAnswerBytes.
func Quote(body []byte) string {
	if len(body) > MaxAnswerBytes {
		return strings.TrimSpace(string(body[:MaxAnswerBytes])) + "…"
	}
	return strings.TrimSpace(string(body))
}

// Transient reports whether an answer is worth retrying later: a 5xx, 408
// and 429, and 401 and 403 (a token about to be renewed, a setup an
// operator fixes; the samples stay queued meanwhile).
func Transient(code int) bool {
	switch {
	case code >= 500, code == http.StatusRequestTimeout, code == http.StatusTooManyRequests,
		code == http.StatusUnauthorized, code == http.StatusForbidden:
		return true
	}
	return false
}

// Redact is a URL without its credentials, for logs and errors.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(url)"
	}
	u.User = nil
	return u.String()
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/altimeter/altimeter/host/auth"
	"github.com/altimeter/altimeter/internal/tlsconf"
)

// Defaults of the API client flags.
const (
	defaultURL     = "http://127.0.0.1:8777"
	defaultDataDir = "./data"
	envURL         = "ALTIMETER_URL"
	envToken       = "ALTIMETER_TOKEN"
	envCAFile      = "ALTIMETER_CA_FILE"
	requestTimeout = 60 * time.Second
	maxErrorBody   = 64 << 10
)

// apiFlags are the flags every API command shares: where the API is, who we
// are, and how to print.
type apiFlags struct {
	url      string
	token    string
	dataDir  string
	output   string
	caFile   string
	certFile string
	keyFile  string
}

// register adds the flags to c and its subcommands.
func (f *apiFlags) register(c *cobra.Command, withAPI bool) {
	pf := c.PersistentFlags()
	if withAPI {
		pf.StringVar(&f.url, "url", "", "API base URL (default: $"+envURL+", else "+defaultURL+")")
		pf.StringVar(&f.token, "token", "", "API token (default: $"+envToken+", else the content of <data-dir>/admin-token)")
		pf.StringVar(&f.caFile, "ca-file", "", "PEM file of the CA(s) that signed the API's https certificate (default: $"+envCAFile+", else the system roots)")
		pf.StringVar(&f.certFile, "cert-file", "", "PEM client certificate, for an API that requires mutual TLS (with --key-file)")
		pf.StringVar(&f.keyFile, "key-file", "", "PEM key of --cert-file")
	}
	pf.StringVar(&f.dataDir, "data-dir", defaultDataDir, "agent data directory (holds admin-token)")
	pf.StringVarP(&f.output, "output", "o", "table", "output format: table|json")
}

// json checks -o and reports whether JSON was asked for.
func (f *apiFlags) json() (bool, error) {
	switch f.output {
	case "table":
		return false, nil
	case "json":
		return true, nil
	}
	return false, fmt.Errorf("bad --output %q: want table or json", f.output)
}

// client resolves URL and token (flag, then environment, then default) and
// builds a client.
func (f *apiFlags) client() (*client, error) {
	raw := f.url
	if raw == "" {
		raw = os.Getenv(envURL)
	}
	if raw == "" {
		raw = defaultURL
	}
	base, err := url.Parse(raw)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" || base.RawQuery != "" || base.Fragment != "" {
		return nil, fmt.Errorf("bad API URL %q: want http(s)://host:port", raw)
	}
	token := f.token
	if token == "" {
		token = os.Getenv(envToken)
	}
	if token == "" {
		path := filepath.Join(f.dataDir, auth.AdminTokenFile)
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("no API token: pass --token, set $%s, or point --data-dir at the agent's data directory: %w", envToken, err)
		}
		token = strings.TrimSpace(string(b))
		if token == "" {
			return nil, fmt.Errorf("no API token: %s is empty", path)
		}
	}
	tr, err := f.transport()
	if err != nil {
		return nil, err
	}
	return &client{base: base, token: token, http: &http.Client{Timeout: requestTimeout, Transport: tr}}, nil
}

// transport is the client's HTTP transport: the default one, with the CA
// file and client certificate of the flags when given.
func (f *apiFlags) transport() (http.RoundTripper, error) {
	caFile := f.caFile
	if caFile == "" {
		caFile = os.Getenv(envCAFile)
	}
	if caFile == "" && f.certFile == "" && f.keyFile == "" {
		return http.DefaultTransport, nil
	}
	if (f.certFile == "") != (f.keyFile == "") {
		return nil, errors.New("--cert-file and --key-file go together")
	}
	tc, err := tlsconf.Client(caFile, f.certFile, f.keyFile)
	if err != nil {
		return nil, fmt.Errorf("--ca-file, --cert-file: %w", err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	return tr, nil
}

// client talks to the agent's v2 API.
type client struct {
	base  *url.URL
	token string
	http  *http.Client
}

// APIError is a non-2xx answer, carrying Ceilometer's faultstring.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("HTTP %d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

// get fetches path with query parameters q and returns the raw JSON body.
func (c *client) get(ctx context.Context, path string, q url.Values) ([]byte, error) {
	return c.do(ctx, http.MethodGet, path, q, nil)
}

// post sends body as JSON to path and returns the raw JSON answer.
func (c *client) post(ctx context.Context, path string, body any) ([]byte, error) {
	return c.do(ctx, http.MethodPost, path, nil, body)
}

// do sends one request. path is already escaped (callers escape IDs with
// url.PathEscape).
func (c *client) do(ctx context.Context, method, path string, q url.Values, body any) ([]byte, error) {
	target := strings.TrimSuffix(c.base.String(), "/") + path
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("%s %s: encode body: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("X-Auth-Token", c.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, syscall.ECONNREFUSED) {
			err = fmt.Errorf("%w (is the agent running? set --url or $%s)", err, envURL)
		}
		return nil, fmt.Errorf("%s %s: %w", method, target, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return nil, &APIError{Status: resp.StatusCode, Message: faultString(b)}
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	return b, nil
}

// faultString digs the message out of an error body: Ceilometer's
// {"error_message": {"faultstring": ...}} (where error_message may itself be
// a JSON string), the house {"error": {"message": ...}}, or the raw text.
func faultString(b []byte) string {
	var env struct {
		ErrorMessage json.RawMessage `json:"error_message"`
		Error        *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(b, &env) == nil {
		if len(env.ErrorMessage) > 0 {
			if s, ok := fault(env.ErrorMessage); ok {
				return s
			}
		}
		if env.Error != nil && env.Error.Message != "" {
			return env.Error.Message
		}
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "(empty answer)"
	}
	return truncate(clean(s), 300)
}

func fault(raw json.RawMessage) (string, bool) {
	var obj struct {
		FaultString string `json:"faultstring"`
	}
	if json.Unmarshal(raw, &obj) == nil && obj.FaultString != "" {
		return obj.FaultString, true
	}
	var s string
	if json.Unmarshal(raw, &s) == nil && s != "" {
		if json.Unmarshal([]byte(s), &obj) == nil && obj.FaultString != "" {
			return obj.FaultString, true
		}
		return s, true
	}
	return "", false
}

// decode reads a JSON answer keeping numbers as written.
func decode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	return nil
}

// printJSON writes the API's answer indented.
func printJSON(w io.Writer, b []byte) error {
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return fmt.Errorf("answer is not JSON: %w", err)
	}
	out.WriteByte('\n')
	_, err := w.Write(out.Bytes())
	return err
}

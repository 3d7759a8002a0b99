package config

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// APIServer is the HTTP server part of the api block. Zero durations and
// MaxConns take the server's defaults (api.DefaultLimits).
type APIServer struct {
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	MaxConns          int
	// PublicURL is the base of the links the API answers with
	// (http(s)://host[:port][/prefix]); empty: the listen address.
	PublicURL string
	// MetricsRequireToken makes /metrics ask for a token.
	MetricsRequireToken bool
	// TLS, when set, serves the API over HTTPS.
	TLS *APITLS
}

// APITLS names the PEM files of the API's TLS: the server's certificate
// and key, and optionally the CAs client certificates must chain to (then
// every client must present one: mutual TLS).
type APITLS struct {
	CertFile, KeyFile, ClientCAFile string
}

// apiServerAttributes are the api block's server attributes.
var apiServerAttributes = []hcl.AttributeSchema{
	{Name: "read_header_timeout"}, {Name: "read_timeout"}, {Name: "write_timeout"}, {Name: "idle_timeout"},
	{Name: "max_conns"}, {Name: "public_url"}, {Name: "metrics_require_token"},
}

var apiTLSSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "cert_file", Required: true}, {Name: "key_file", Required: true}, {Name: "client_ca_file"},
	},
}

// maxAPIConns bounds max_conns (each connection is a goroutine and a file
// descriptor).
const maxAPIConns = 1 << 16

// decodeAPIServer decodes the server attributes and the tls block of an
// api block's content into a.API.
func (l *loader) decodeAPIServer(a *Agent, content *hcl.BodyContent) {
	s := &a.API
	for name, d := range map[string]*time.Duration{
		"read_header_timeout": &s.ReadHeaderTimeout, "read_timeout": &s.ReadTimeout,
		"write_timeout": &s.WriteTimeout, "idle_timeout": &s.IdleTimeout,
	} {
		if attr, ok := content.Attributes[name]; ok {
			*d = l.duration(attr, 100*time.Millisecond)
		}
	}
	if attr, ok := content.Attributes["max_conns"]; ok {
		if s.MaxConns = l.positiveInt(attr); s.MaxConns > maxAPIConns {
			l.attrError(attr, "Invalid max_conns", fmt.Sprintf("max_conns is at most %d.", maxAPIConns))
		}
	}
	if attr, ok := content.Attributes["public_url"]; ok {
		if v, ok := l.stringAttr(attr); ok {
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
				l.attrError(attr, "Invalid public_url", fmt.Sprintf("%q: want http(s)://host[:port][/path], without query or fragment.", v))
			} else {
				s.PublicURL = v
			}
		}
	}
	if attr, ok := content.Attributes["metrics_require_token"]; ok {
		s.MetricsRequireToken, _ = l.boolAttr(attr)
	}
	for _, blk := range content.Blocks {
		if blk.Type != "tls" {
			continue
		}
		t := &APITLS{}
		if l.tlsBlock(blk, "agent.api.tls", s.TLS != nil, apiTLSSchema, map[string]*string{
			"cert_file": &t.CertFile, "key_file": &t.KeyFile, "client_ca_file": &t.ClientCAFile,
		}) {
			s.TLS = t
		}
	}
}

// tlsBlock decodes a tls block's file attributes (each a non-empty string)
// into files; a second block (dup) is an error and decodes nothing. It
// reports whether it decoded the block.
func (l *loader) tlsBlock(blk *hcl.Block, what string, dup bool, schema *hcl.BodySchema, files map[string]*string) bool {
	if dup {
		l.diags = append(l.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError, Summary: "Duplicate tls block",
			Detail: what + " is already declared.", Subject: blk.DefRange.Ptr(),
		})
		return false
	}
	content, diags := blk.Body.Content(schema)
	l.diags = append(l.diags, diags...)
	for _, name := range slices.Sorted(maps.Keys(files)) { // stable diagnostics
		if attr, ok := content.Attributes[name]; ok {
			*files[name] = l.nonEmptyString(attr)
		}
	}
	return true
}

// boolAttr decodes a bool attribute; ok is false (and a diagnostic added)
// when it is not one.
func (l *loader) boolAttr(attr *hcl.Attribute) (v, ok bool) {
	val, d := attr.Expr.Value(nil)
	l.diags = append(l.diags, d...)
	if d.HasErrors() {
		return false, false
	}
	if val.IsNull() || !val.Type().Equals(cty.Bool) {
		l.attrError(attr, "Incorrect value type", fmt.Sprintf("Inappropriate value for attribute %q: a bool is required.", attr.Name))
		return false, false
	}
	return val.True(), true
}

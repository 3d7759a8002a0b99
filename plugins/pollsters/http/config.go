package main

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/ohler55/ojg/jp"

	"github.com/altimeter/altimeter/internal/scale"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/schema"
)

// config is the plugin block. Request settings at top level are defaults for
// every meter block; a meter block's own settings win.
type config struct {
	Timeout            string            `hcl:"timeout,optional" desc:"Default request timeout of a definition, pages included (duration)."`
	Headers            map[string]string `hcl:"headers,optional" desc:"Default request headers (literal values; not for secrets)."`
	HeadersFromEnv     map[string]string `hcl:"headers_from_env,optional" desc:"Default headers whose values are read from these environment variables at configuration."`
	HeadersFromFile    map[string]string `hcl:"headers_from_file,optional" desc:"Default headers whose values are read from these files (trimmed) at configuration."`
	BearerTokenEnv     string            `hcl:"bearer_token_env,optional" desc:"Environment variable holding a token sent as Authorization: Bearer <token>."`
	BearerTokenFile    string            `hcl:"bearer_token_file,optional" desc:"File holding a token sent as Authorization: Bearer <token>."`
	Concurrency        int               `hcl:"concurrency,optional" desc:"Definitions requested at once in one poll."`
	MaxPages           int               `hcl:"max_pages,optional" desc:"Most pages followed through next_sample_url_attribute per definition and poll."`
	MaxBodyBytes       int               `hcl:"max_body_bytes,optional" desc:"Largest response body read; a larger one is an error."`
	CAFile             string            `hcl:"ca_file,optional" desc:"PEM bundle of CAs trusted for https URLs, in addition to the system's."`
	InsecureSkipVerify bool              `hcl:"insecure_skip_verify,optional" desc:"Do not verify TLS certificates (testing only)."`
	Meters             []meterConfig     `hcl:"meter,block"`
}

// meterConfig is one definition: one request (plus its pages) giving one or
// more meters. Attribute names follow Ceilometer's dynamic pollsters.
type meterConfig struct {
	Name                   string             `hcl:"name,label"`
	URL                    string             `hcl:"url" desc:"Absolute http(s) URL (Ceilometer's endpoint + url_path)."`
	Method                 string             `hcl:"method,optional" desc:"GET (default) or POST."`
	Body                   string             `hcl:"body,optional" desc:"Request body, for POST."`
	Headers                map[string]string  `hcl:"headers,optional"`
	HeadersFromEnv         map[string]string  `hcl:"headers_from_env,optional"`
	HeadersFromFile        map[string]string  `hcl:"headers_from_file,optional"`
	BearerTokenEnv         string             `hcl:"bearer_token_env,optional"`
	BearerTokenFile        string             `hcl:"bearer_token_file,optional"`
	Timeout                string             `hcl:"timeout,optional"`
	Type                   string             `hcl:"type,optional" desc:"gauge, delta or cumulative (Ceilometer's sample_type)."`
	Unit                   string             `hcl:"unit,optional"`
	ResponseFormat         string             `hcl:"response_format,optional" desc:"json (default) or text."`
	TextPattern            string             `hcl:"text_pattern,optional" desc:"For text: a regular expression; each match is one entry whose fields are its named groups."`
	ResponseEntriesKey     string             `hcl:"response_entries_key,optional" desc:"Path to the list of entries (or to one entry object)."`
	ValueAttribute         string             `hcl:"value_attribute,optional" desc:"Path of the value inside an entry; [list].path for a multi-metric name ending in .{attribute}."`
	ValueExpression        string             `hcl:"value_expression,optional" desc:"Expression giving the volume from the value read (volume, metadata, resource_id, ...), e.g. \"volume / 1024\"."`
	ResourceID             string             `hcl:"resource_id,optional" desc:"Fixed resource ID for every sample."`
	ResourceIDAttribute    *string            `hcl:"resource_id_attribute,optional"`
	ProjectIDAttribute     *string            `hcl:"project_id_attribute,optional"`
	UserIDAttribute        *string            `hcl:"user_id_attribute,optional"`
	MetadataFields         []string           `hcl:"metadata_fields,optional"`
	MetadataMapping        map[string]string  `hcl:"metadata_mapping,optional"`
	PreserveMappedMetadata *bool              `hcl:"preserve_mapped_metadata,optional"`
	ValueMapping           map[string]float64 `hcl:"value_mapping,optional"`
	DefaultValue           *float64           `hcl:"default_value,optional"`
	SkipSampleValues       []string           `hcl:"skip_sample_values,optional"`
	NextSampleURLAttribute string             `hcl:"next_sample_url_attribute,optional"`
	Values                 []valueConfig      `hcl:"value,block"`
}

// valueConfig is one more meter read from each entry of its definition.
type valueConfig struct {
	Name       string `hcl:"name,label"`
	Attribute  string `hcl:"attribute" desc:"Path of the value inside an entry."`
	Expression string `hcl:"expression,optional" desc:"As value_expression, for this meter."`
	Type       string `hcl:"type,optional"`
	Unit       string `hcl:"unit,optional"`
}

func defaultConfig() config {
	return config{Timeout: "30s", Concurrency: 4, MaxPages: 100, MaxBodyBytes: 16 << 20}
}

// Ceilometer's name rules (dynamic_pollster.py POLLSTER_VALID_NAMES_REGEXP
// and the multi-metric forms).
var (
	nameRE       = regexp.MustCompile(`^[\w-]+(\.[\w-]+)*$`)
	multiNameRE  = regexp.MustCompile(`^[\w-]+(\.[\w-]+)*\.\{(\w+)\}$`)
	multiValueRE = regexp.MustCompile(`^\[([^\]]+)\]\.(.+)$`)
)

// meterSpec is one meter a definition yields per entry.
type meterSpec struct {
	name  string
	typ   sample.Type
	unit  string
	value jp.Expr
	// scale, if set, computes the volume from the sample as read. One
	// definition is extracted by one goroutine at a time, as Scale needs.
	scale *scale.Scale
}

// multiSpec is Ceilometer's multi-metric form: each element of list (inside
// an entry) is one sample named after its nameAttr field.
type multiSpec struct {
	list        jp.Expr
	nameAttr    string
	placeholder string // "{nameAttr}"
}

// idPath is a resource, project or user ID attribute.
type idPath struct {
	path jp.Expr
	// required: configured explicitly, so an entry without it is invalid.
	required bool
}

type metaField struct {
	key  string
	path jp.Expr
}

// definition is a compiled meter block; its name is the resource the host's
// ownership hook assigns.
type definition struct {
	name     string
	url      *url.URL
	shown    string // url without credentials and query, for logs
	method   string
	body     string
	header   http.Header
	timeout  time.Duration
	text     *regexp.Regexp
	entries  jp.Expr
	nextURL  jp.Expr
	fixedID  string
	id       idPath
	project  idPath
	user     idPath
	metadata []metaField
	renames  map[string]string
	preserve bool
	mapping  map[string]float64
	defValue float64
	skip     map[string]bool
	meters   []meterSpec
	multi    *multiSpec
}

// meterNames lists the names the definition declares (a multi-metric
// template as written).
func (d *definition) meterNames() []string {
	out := make([]string, len(d.meters))
	for i, m := range d.meters {
		out[i] = m.name
	}
	return out
}

// compile validates c and builds the definitions; every problem is an
// AttributeError naming its attribute.
func compile(c config, getenv func(string) string) ([]*definition, time.Duration, error) {
	var errs []error
	timeout, err := parseTimeout(c.Timeout)
	if err != nil {
		errs = append(errs, schema.AttrError("timeout", err.Error()))
	}
	if c.Concurrency < 1 {
		errs = append(errs, schema.AttrError("concurrency", "must be at least 1"))
	}
	if c.MaxPages < 1 {
		errs = append(errs, schema.AttrError("max_pages", "must be at least 1"))
	}
	if c.MaxBodyBytes < 1 {
		errs = append(errs, schema.AttrError("max_body_bytes", "must be at least 1"))
	}
	if c.CAFile != "" {
		if _, err := os.Stat(c.CAFile); err != nil {
			errs = append(errs, schema.AttrError("ca_file", fmt.Sprintf("cannot read %s: %v", c.CAFile, errors.Unwrap(err))))
		}
	}
	base, herrs := headers("", headerSources{c.Headers, c.HeadersFromEnv, c.HeadersFromFile, c.BearerTokenEnv, c.BearerTokenFile}, getenv)
	errs = append(errs, herrs...)
	if len(c.Meters) == 0 {
		errs = append(errs, schema.AttrError("meter", "define at least one meter block"))
	}
	seenDef := map[string]string{}
	seenMeter := map[string]string{}
	var defs []*definition
	for i, m := range c.Meters {
		p := fmt.Sprintf("meter.%d.", i)
		d, derrs := compileMeter(m, p, base, timeout, getenv)
		errs = append(errs, derrs...)
		if prev, dup := seenDef[m.Name]; dup {
			errs = append(errs, schema.AttrError(p+"name", fmt.Sprintf("meter %q is already defined by %s", m.Name, prev)))
		} else {
			seenDef[m.Name] = p + "name"
		}
		if d == nil {
			continue
		}
		for _, n := range d.meterNames() {
			if prev, dup := seenMeter[n]; dup && prev != m.Name {
				errs = append(errs, schema.AttrError(p+"name", fmt.Sprintf("meter %q is also produced by meter block %q", n, prev)))
			}
			seenMeter[n] = m.Name
		}
		defs = append(defs, d)
	}
	if len(errs) > 0 {
		return nil, 0, errors.Join(errs...)
	}
	return defs, timeout, nil
}

func parseTimeout(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("must be a positive duration such as \"10s\", not %q", s)
	}
	return d, nil
}

// headerSources are the header attributes of one level (top or meter).
type headerSources struct {
	lit, env, file        map[string]string
	bearerEnv, bearerFile string
}

// headers builds one level's headers: literal, then from environment
// variables, then from files, then the bearer token. Error messages name
// variables and files, never their contents.
func headers(prefix string, src headerSources, getenv func(string) string) (http.Header, []error) {
	var errs []error
	h := http.Header{}
	for _, k := range sortedKeys(src.lit) {
		h.Set(k, src.lit[k])
	}
	fromEnv := func(attr, what, name string) (string, bool) {
		v := getenv(name)
		if v == "" {
			errs = append(errs, schema.AttrError(prefix+attr, fmt.Sprintf("%senvironment variable %s is not set or empty", what, name)))
			return "", false
		}
		return v, true
	}
	fromFile := func(attr, what, path string) (string, bool) {
		b, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, schema.AttrError(prefix+attr, fmt.Sprintf("%scannot read %s: %v", what, path, errors.Unwrap(err))))
			return "", false
		}
		v := strings.TrimSpace(string(b))
		if v == "" || strings.ContainsAny(v, "\r\n") {
			errs = append(errs, schema.AttrError(prefix+attr, fmt.Sprintf("%s%s must hold one non-empty line", what, path)))
			return "", false
		}
		return v, true
	}
	for _, k := range sortedKeys(src.env) {
		if v, ok := fromEnv("headers_from_env", "header "+k+": ", src.env[k]); ok {
			h.Set(k, v)
		}
	}
	for _, k := range sortedKeys(src.file) {
		if v, ok := fromFile("headers_from_file", "header "+k+": ", src.file[k]); ok {
			h.Set(k, v)
		}
	}
	switch {
	case src.bearerEnv != "" && src.bearerFile != "":
		errs = append(errs, schema.AttrError(prefix+"bearer_token_file", "set bearer_token_env or bearer_token_file, not both"))
	case src.bearerEnv != "":
		if v, ok := fromEnv("bearer_token_env", "", src.bearerEnv); ok {
			h.Set("Authorization", "Bearer "+v)
		}
	case src.bearerFile != "":
		if v, ok := fromFile("bearer_token_file", "", src.bearerFile); ok {
			h.Set("Authorization", "Bearer "+v)
		}
	}
	for k := range h {
		if !validHeaderName(k) {
			errs = append(errs, schema.AttrError(prefix+"headers", fmt.Sprintf("%q is not a valid header name", k)))
		}
	}
	return h, errs
}

func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for _, r := range k {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) {
			return false
		}
	}
	return true
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func compileMeter(m meterConfig, p string, base http.Header, timeout time.Duration, getenv func(string) string) (*definition, []error) {
	var errs []error
	bad := func(attr, detail string) { errs = append(errs, schema.AttrError(p+attr, detail)) }
	d := &definition{name: m.Name, defValue: -1, preserve: true}

	u, err := url.Parse(m.URL)
	switch {
	case err != nil:
		bad("url", "not a URL: "+errors.Unwrap(err).Error())
	case u.Scheme != "http" && u.Scheme != "https":
		bad("url", "must be an absolute http:// or https:// URL")
	case u.Host == "":
		bad("url", "has no host")
	default:
		d.url, d.shown = u, redact(u)
	}
	switch strings.ToUpper(m.Method) {
	case "", http.MethodGet:
		d.method = http.MethodGet
		if m.Body != "" {
			bad("body", "only a POST sends a body")
		}
	case http.MethodPost:
		d.method, d.body = http.MethodPost, m.Body
	default:
		bad("method", fmt.Sprintf("must be GET or POST, not %q", m.Method))
	}
	h, herrs := headers(p, headerSources{m.Headers, m.HeadersFromEnv, m.HeadersFromFile, m.BearerTokenEnv, m.BearerTokenFile}, getenv)
	errs = append(errs, herrs...)
	d.header = base.Clone()
	for k, v := range h {
		d.header[k] = v
	}
	d.timeout = timeout
	if m.Timeout != "" {
		if d.timeout, err = parseTimeout(m.Timeout); err != nil {
			bad("timeout", err.Error())
		}
	}

	text := false
	switch m.ResponseFormat {
	case "", "json":
		if m.TextPattern != "" {
			bad("text_pattern", `only for response_format = "text"`)
		}
	case "text":
		text = true
		if m.TextPattern == "" {
			bad("text_pattern", `required with response_format = "text"`)
		} else if d.text, err = regexp.Compile(m.TextPattern); err != nil {
			bad("text_pattern", "not a regular expression: "+err.Error())
		}
		if m.ResponseEntriesKey != "" || m.NextSampleURLAttribute != "" {
			bad("response_format", "text responses have no response_entries_key or next_sample_url_attribute")
		}
	default:
		bad("response_format", fmt.Sprintf("must be \"json\" or \"text\", not %q", m.ResponseFormat))
	}
	path := func(attr, s string) jp.Expr {
		x, err := parsePath(s)
		if err != nil {
			bad(attr, err.Error())
		}
		return x
	}
	if m.ResponseEntriesKey != "" {
		d.entries = path("response_entries_key", m.ResponseEntriesKey)
	}
	if m.NextSampleURLAttribute != "" {
		d.nextURL = path("next_sample_url_attribute", m.NextSampleURLAttribute)
	}
	d.fixedID = m.ResourceID
	d.id = idAttr(m.ResourceIDAttribute, "id", "resource_id_attribute", path)
	d.project = idAttr(m.ProjectIDAttribute, "project_id", "project_id_attribute", path)
	d.user = idAttr(m.UserIDAttribute, "user_id", "user_id_attribute", path)
	if m.ResourceID != "" && m.ResourceIDAttribute != nil {
		bad("resource_id", "set resource_id or resource_id_attribute, not both")
	}
	for j, f := range m.MetadataFields {
		d.metadata = append(d.metadata, metaField{key: f, path: path(fmt.Sprintf("metadata_fields.%d", j), f)})
	}
	d.renames = m.MetadataMapping
	if m.PreserveMappedMetadata != nil {
		d.preserve = *m.PreserveMappedMetadata
	}
	d.mapping = m.ValueMapping
	if m.DefaultValue != nil {
		if len(m.ValueMapping) == 0 {
			bad("default_value", "only used with value_mapping")
		}
		d.defValue = *m.DefaultValue
	}
	if len(m.SkipSampleValues) > 0 {
		d.skip = make(map[string]bool, len(m.SkipSampleValues))
		for _, v := range m.SkipSampleValues {
			d.skip[v] = true
		}
	}

	typ := func(attr, s string) sample.Type {
		t, err := sample.ParseType(s)
		if err != nil {
			bad(attr, err.Error())
		}
		return t
	}
	expr := func(attr, src string) *scale.Scale {
		if src == "" {
			return nil
		}
		sc, err := scale.Compile(src)
		if err != nil {
			bad(attr, "not a valid expression: "+err.Error())
		}
		return sc
	}
	valueAttr := m.ValueAttribute
	if valueAttr == "" && text && len(m.Values) == 0 {
		valueAttr = "value"
	}
	switch mm := multiNameRE.FindStringSubmatch(m.Name); {
	case mm != nil:
		vm := multiValueRE.FindStringSubmatch(valueAttr)
		if vm == nil {
			bad("value_attribute", fmt.Sprintf("a multi-metric meter (name ending in .{%s}) needs value_attribute = \"[<list>].<value path>\"", mm[2]))
			break
		}
		if len(m.Values) > 0 {
			bad("value", "a multi-metric meter has no value blocks")
		}
		d.multi = &multiSpec{list: path("value_attribute", vm[1]), nameAttr: mm[2], placeholder: "{" + mm[2] + "}"}
		d.meters = []meterSpec{{name: m.Name, typ: typ("type", m.Type), unit: m.Unit, value: path("value_attribute", vm[2]), scale: expr("value_expression", m.ValueExpression)}}
		if m.Unit == "" {
			bad("unit", "required")
		}
	case len(m.Values) > 0:
		if valueAttr != "" {
			d.meters = append(d.meters, meterSpec{name: m.Name, typ: typ("type", m.Type), unit: m.Unit, value: path("value_attribute", valueAttr), scale: expr("value_expression", m.ValueExpression)})
			if m.Unit == "" {
				bad("unit", "required")
			}
		} else if m.ValueExpression != "" {
			bad("value_expression", "applies to value_attribute; give each value block its own expression")
		} else if !nameRE.MatchString(m.Name) {
			bad("name", fmt.Sprintf("%q is not a valid definition name (letters, digits, _ and - in dot-separated parts)", m.Name))
		}
		for j, v := range m.Values {
			vp := fmt.Sprintf("value.%d.", j)
			if !nameRE.MatchString(v.Name) {
				bad(vp+"name", fmt.Sprintf("%q is not a valid meter name (letters, digits, _ and - in dot-separated parts)", v.Name))
			}
			t, u := v.Type, v.Unit
			if t == "" {
				t = m.Type
			}
			if u == "" {
				u = m.Unit
			}
			if u == "" {
				bad(vp+"unit", "required (here or in the meter block)")
			}
			d.meters = append(d.meters, meterSpec{name: v.Name, typ: typ(vp+"type", t), unit: u, value: path(vp+"attribute", v.Attribute), scale: expr(vp+"expression", v.Expression)})
		}
	default:
		if !nameRE.MatchString(m.Name) {
			bad("name", fmt.Sprintf("%q is not a valid meter name (letters, digits, _ and - in dot-separated parts; .{attribute} last for multi-metric)", m.Name))
		}
		if valueAttr == "" {
			bad("value_attribute", "required (or value blocks)")
			break
		}
		if multiValueRE.MatchString(valueAttr) {
			bad("value_attribute", "the [list].path form needs a multi-metric name ending in .{attribute}")
			break
		}
		d.meters = []meterSpec{{name: m.Name, typ: typ("type", m.Type), unit: m.Unit, value: path("value_attribute", valueAttr), scale: expr("value_expression", m.ValueExpression)}}
		if m.Unit == "" {
			bad("unit", "required")
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return d, nil
}

func idAttr(set *string, def, attr string, path func(string, string) jp.Expr) idPath {
	if set == nil {
		return idPath{path: jp.C(def)}
	}
	if *set == "" {
		return idPath{}
	}
	return idPath{path: path(attr, *set), required: true}
}

// parsePath parses a Ceilometer dotted path or a JSONPath. "." (Ceilometer's
// "the entry itself") is "@".
func parsePath(s string) (jp.Expr, error) {
	s = strings.TrimSpace(s)
	if s == "." {
		s = "@"
	}
	if s == "" {
		return nil, errors.New("empty path")
	}
	x, err := jp.ParseString(s)
	if err != nil {
		return nil, fmt.Errorf("not a JSONPath or dotted path: %v", err)
	}
	return x, nil
}

// redact returns u without user info and query: what logs, errors and
// discovery show.
func redact(u *url.URL) string {
	c := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	return c.String()
}

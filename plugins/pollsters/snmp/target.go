package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/altimeter/altimeter/sdk/schema"
)

// target is one SNMP agent to poll, parsed from a resource URL:
//
//	snmp://[user[:auth_password]@]host[:port][?param=value&...]
//
// It holds secrets: never log it, only display().
type target struct {
	host           string // hostname or address, no port
	port           uint16
	resourceID     string
	version        gosnmp.SnmpVersion
	community      string
	user           string
	authProto      gosnmp.SnmpV3AuthProtocol
	authPass       string
	privProto      gosnmp.SnmpV3PrivProtocol
	privPass       string
	level          gosnmp.SnmpV3MsgFlags
	timeout        time.Duration
	retries        int
	maxRepetitions int
}

// display is the target without credentials, safe for logs and metadata.
func (t *target) display() string {
	return "snmp://" + net.JoinHostPort(t.host, strconv.Itoa(int(t.port)))
}

// secretDefaults are the plugin-level credentials and tuning a URL falls
// back to. The secrets are already read from env or file.
type secretDefaults struct {
	community      string
	user           string
	authPass       string
	privPass       string
	authProto      string
	privProto      string
	timeout        time.Duration
	retries        int
	maxRepetitions int
}

// urlError is a resource URL that cannot be polled. Its message never
// quotes the URL (which may hold secrets), only the offending part.
type urlError struct {
	host string // what is known of the host, for the resource ID
	msg  string
}

func (e *urlError) Error() string { return "bad snmp resource: " + e.msg }

// errBadURL is the sentinel every urlError matches with errors.Is.
var errBadURL = errors.New("bad snmp resource")

func (e *urlError) Is(target error) bool { return target == errBadURL }

// knownParams are the query parameters a resource URL may carry.
var knownParams = map[string]bool{
	"version": true, "community": true, "community_env": true, "community_file": true,
	"user": true, "password": true, "password_env": true, "password_file": true,
	"auth_protocol": true, "auth_proto": true,
	"priv_protocol": true, "priv_proto": true,
	"priv_password": true, "priv_password_env": true, "priv_password_file": true,
	"security_level": true, "timeout": true, "retries": true, "max_repetitions": true,
	"resource_id": true,
}

// v3Params imply SNMPv3 when no version is given.
var v3Params = []string{"user", "password", "password_env", "password_file", "auth_protocol", "auth_proto",
	"priv_protocol", "priv_proto", "priv_password", "priv_password_env", "priv_password_file", "security_level"}

// parseTarget parses a resource URL. A string without "://" is taken as
// "snmp://" + s. Errors are *urlError and never contain secrets.
func parseTarget(raw string, def secretDefaults) (*target, error) {
	if !strings.Contains(raw, "://") {
		raw = "snmp://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse quotes the whole URL in its error: never pass it on.
		return nil, &urlError{host: hostGuess(raw), msg: "not a URL of the form snmp://[user[:password]@]host[:port][?params]"}
	}
	host := u.Hostname()
	bad := func(format string, a ...any) (*target, error) {
		return nil, &urlError{host: host, msg: fmt.Sprintf(format, a...)}
	}
	if u.Scheme != "snmp" {
		return bad("scheme %q is not snmp", u.Scheme)
	}
	if host == "" {
		return bad("no host")
	}
	if u.Path != "" && u.Path != "/" {
		return bad("unexpected path after the host")
	}
	t := &target{
		host: host, port: 161, resourceID: host,
		timeout: def.timeout, retries: def.retries, maxRepetitions: def.maxRepetitions,
	}
	if p := u.Port(); p != "" {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			return bad("port %q is not a UDP port number", p)
		}
		t.port = uint16(n)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return bad("malformed query string")
	}
	for k, v := range q {
		if !knownParams[k] {
			return bad("unknown parameter %q (known: version, community[_env|_file], user, password[_env|_file], auth_protocol, priv_protocol, priv_password[_env|_file], security_level, timeout, retries, max_repetitions, resource_id)", k)
		}
		if len(v) > 1 {
			return bad("parameter %q given %d times", k, len(v))
		}
	}
	get := q.Get
	if s := get("resource_id"); s != "" {
		t.resourceID = s
	}
	if s := get("timeout"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return bad("timeout %q is not a positive duration such as \"2s\"", s)
		}
		t.timeout = d
	}
	if s := get("retries"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 10 {
			return bad("retries %q is not a number from 0 to 10", s)
		}
		t.retries = n
	}
	if s := get("max_repetitions"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 255 {
			return bad("max_repetitions %q is not a number from 1 to 255", s)
		}
		t.maxRepetitions = n
	}

	userName := u.User.Username()
	urlPass, hasURLPass := u.User.Password()
	version := get("version")
	if version == "" {
		version = "2c"
		if hasURLPass {
			version = "3"
		}
		for _, k := range v3Params {
			if q.Has(k) {
				version = "3"
			}
		}
	}
	switch strings.TrimPrefix(strings.ToLower(version), "v") {
	case "1":
		t.version = gosnmp.Version1
	case "2c", "2":
		t.version = gosnmp.Version2c
	case "3":
		t.version = gosnmp.Version3
	default:
		return bad("version %q is not 1, 2c or 3", version)
	}

	if t.version != gosnmp.Version3 {
		if hasURLPass {
			return bad("a password in the URL needs version 3; a v1/v2c community goes in the user part (snmp://community@host) or in community[_env|_file]")
		}
		for _, k := range v3Params {
			if q.Has(k) {
				return bad("parameter %q is for version 3 only", k)
			}
		}
		c, err := secret(q, "community")
		if err != nil {
			return bad("%v", err)
		}
		switch {
		case c != "":
		case userName != "":
			c = userName // Ceilometer's form: snmp://public@host
		case def.community != "":
			c = def.community
		default:
			c = "public"
		}
		t.community = c
		return t, nil
	}

	for _, k := range []string{"community", "community_env", "community_file"} {
		if q.Has(k) {
			return bad("parameter %q is for versions 1 and 2c only", k)
		}
	}
	t.user = firstNonEmpty(userName, get("user"), def.user)
	if t.user == "" {
		return bad("version 3 needs a user: snmp://user@host or user=...")
	}
	if hasURLPass {
		t.authPass = urlPass
	}
	if p, err := secret(q, "password"); err != nil {
		return bad("%v", err)
	} else if p != "" {
		if hasURLPass {
			return bad("auth password given both in the URL and as a parameter")
		}
		t.authPass = p
	}
	if t.authPass == "" {
		t.authPass = def.authPass
	}
	if t.privPass, err = secret(q, "priv_password"); err != nil {
		return bad("%v", err)
	}
	if t.privPass == "" {
		t.privPass = def.privPass
	}
	ap := firstNonEmpty(get("auth_protocol"), get("auth_proto"), def.authProto, "sha")
	if t.authProto, err = authProtocol(ap); err != nil {
		return bad("%v", err)
	}
	pp := firstNonEmpty(get("priv_protocol"), get("priv_proto"), def.privProto, "aes")
	if t.privProto, err = privProtocol(pp); err != nil {
		return bad("%v", err)
	}
	level := get("security_level")
	if level == "" {
		level = "noauthnopriv"
		if t.authPass != "" {
			level = "authnopriv"
			if t.privPass != "" {
				level = "authpriv"
			}
		}
	}
	switch strings.ToLower(level) {
	case "noauthnopriv", "noauth":
		t.level = gosnmp.NoAuthNoPriv
		t.authProto, t.privProto = gosnmp.NoAuth, gosnmp.NoPriv
	case "authnopriv", "auth":
		t.level = gosnmp.AuthNoPriv
		t.privProto = gosnmp.NoPriv
		if t.authPass == "" {
			return bad("security_level authNoPriv needs an auth password")
		}
	case "authpriv", "priv":
		t.level = gosnmp.AuthPriv
		if t.authPass == "" || t.privPass == "" {
			return bad("security_level authPriv needs an auth password and a priv_password")
		}
	default:
		return bad("security_level %q is not noAuthNoPriv, authNoPriv or authPriv", level)
	}
	for _, p := range []struct{ name, v string }{{"auth password", t.authPass}, {"priv_password", t.privPass}} {
		if p.v != "" && len(p.v) < 8 && (t.level == gosnmp.AuthPriv || (t.level == gosnmp.AuthNoPriv && p.name == "auth password")) {
			return bad("%s is shorter than the 8 characters SNMPv3 requires", p.name)
		}
	}
	return t, nil
}

// secret reads parameter name from the query, or from the environment
// variable named by name_env, or from the file named by name_file (trailing
// newline removed). At most one of the three may be given.
func secret(q url.Values, name string) (string, error) {
	v, err := schema.Secret(name, q.Get(name), q.Get(name+"_env"), q.Get(name+"_file"))
	var ae *schema.AttributeError
	if errors.As(err, &ae) {
		return "", fmt.Errorf("%s: %s", ae.Attribute, ae.Detail) // a URL parameter, not an HCL attribute
	}
	return v, err
}

func authProtocol(s string) (gosnmp.SnmpV3AuthProtocol, error) {
	switch strings.ToLower(s) {
	case "md5":
		return gosnmp.MD5, nil
	case "sha", "sha1":
		return gosnmp.SHA, nil
	case "sha224":
		return gosnmp.SHA224, nil
	case "sha256":
		return gosnmp.SHA256, nil
	case "sha384":
		return gosnmp.SHA384, nil
	case "sha512":
		return gosnmp.SHA512, nil
	}
	return 0, fmt.Errorf("auth_protocol %q is not md5, sha, sha224, sha256, sha384 or sha512", s)
}

func privProtocol(s string) (gosnmp.SnmpV3PrivProtocol, error) {
	switch strings.ToLower(s) {
	case "des":
		return gosnmp.DES, nil
	case "aes", "aes128":
		return gosnmp.AES, nil
	case "aes192":
		return gosnmp.AES192, nil
	case "aes256":
		return gosnmp.AES256, nil
	case "aes192c":
		return gosnmp.AES192C, nil
	case "aes256c":
		return gosnmp.AES256C, nil
	}
	return 0, fmt.Errorf("priv_protocol %q is not des, aes, aes192, aes256, aes192c or aes256c", s)
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// hostGuess extracts what looks like the host from an unparseable URL, for
// the resource ID of its error: the part after the last '@' and before any
// ':', '/' or '?'. It never returns the user info.
func hostGuess(raw string) string {
	s := raw
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	if i := strings.IndexAny(s, "/?#"); i >= 0 {
		s = s[:i]
	}
	if i := strings.LastIndex(s, "@"); i >= 0 {
		s = s[i+1:]
	}
	if strings.HasPrefix(s, "[") {
		if i := strings.Index(s, "]"); i >= 0 {
			return s[1:i]
		}
	}
	if i := strings.Index(s, ":"); i >= 0 {
		s = s[:i]
	}
	if s == "" {
		return "unknown"
	}
	return s
}

// session builds the gosnmp client for t (not yet connected).
func (t *target) session() *gosnmp.GoSNMP {
	g := &gosnmp.GoSNMP{
		Target: t.host, Port: t.port, Transport: "udp", Version: t.version,
		Timeout: t.timeout, Retries: t.retries, MaxOids: gosnmp.MaxOids,
		MaxRepetitions: uint32(t.maxRepetitions),
	}
	if t.version != gosnmp.Version3 {
		g.Community = t.community
		return g
	}
	g.SecurityModel = gosnmp.UserSecurityModel
	g.MsgFlags = t.level | gosnmp.Reportable
	sp := &gosnmp.UsmSecurityParameters{UserName: t.user}
	if t.level != gosnmp.NoAuthNoPriv {
		sp.AuthenticationProtocol, sp.AuthenticationPassphrase = t.authProto, t.authPass
	}
	if t.level == gosnmp.AuthPriv {
		sp.PrivacyProtocol, sp.PrivacyPassphrase = t.privProto, t.privPass
	}
	g.SecurityParameters = sp
	return g
}

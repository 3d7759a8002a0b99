package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/schema"
)

// config is the plugin's configuration (see README.md).
type config struct {
	Mode            string `hcl:"mode,optional"`
	Node            string `hcl:"node,optional"`
	Device          int    `hcl:"device,optional"`
	Username        string `hcl:"username,optional"`
	PasswordEnv     string `hcl:"password_env,optional"`
	PasswordFile    string `hcl:"password_file,optional"`
	CipherSuite     int    `hcl:"cipher_suite,optional"`
	Timeout         string `hcl:"timeout,optional"`
	Retries         int    `hcl:"retries,optional"`
	ProbeBackoff    string `hcl:"probe_backoff,optional"`
	ProbeBackoffMax string `hcl:"probe_backoff_max,optional"`
	Parallel        int    `hcl:"parallel,optional"`
}

func defaults() config {
	return config{
		Mode:            modeLocal,
		PasswordEnv:     "IPMI_PASSWORD",
		CipherSuite:     3,
		Timeout:         "2s",
		Retries:         1,
		ProbeBackoff:    "1m",
		ProbeBackoffMax: "30m",
		Parallel:        16,
	}
}

const (
	modeLocal  = "local"
	modeRemote = "remote"
	ipmiPort   = 623
)

// settings is config validated and parsed.
type settings struct {
	mode                string
	node                string
	device              int
	username            string
	passwordEnv         string
	passwordFile        string
	cipherSuite         uint8
	timeout             time.Duration
	retries             int
	backoff, backoffMax time.Duration
	parallel            int
}

func (c config) settings() (settings, error) {
	s := settings{mode: c.Mode, node: c.Node, device: c.Device, username: c.Username,
		passwordEnv: c.PasswordEnv, passwordFile: c.PasswordFile, retries: c.Retries, parallel: c.Parallel}
	if c.Mode != modeLocal && c.Mode != modeRemote {
		return s, schema.AttrError("mode", `must be "local" (in-band, /dev/ipmi<device>) or "remote" (lanplus, ipmi:// resources)`)
	}
	if c.Device < 0 {
		return s, schema.AttrError("device", "must be ≥ 0 (the N of /dev/ipmiN)")
	}
	if c.CipherSuite < 0 || c.CipherSuite > 17 {
		return s, schema.AttrError("cipher_suite", "must be an IPMI 2.0 cipher suite ID from 0 to 17 (3 is HMAC-SHA1 + AES-128)")
	}
	s.cipherSuite = uint8(c.CipherSuite)
	if c.Retries < 0 || c.Retries > 10 {
		return s, schema.AttrError("retries", "must be between 0 and 10")
	}
	if c.Parallel < 1 || c.Parallel > 1024 {
		return s, schema.AttrError("parallel", "must be between 1 and 1024")
	}
	var err error
	if s.timeout, err = positiveDuration("timeout", c.Timeout); err != nil {
		return s, err
	}
	if s.backoff, err = positiveDuration("probe_backoff", c.ProbeBackoff); err != nil {
		return s, err
	}
	if s.backoffMax, err = positiveDuration("probe_backoff_max", c.ProbeBackoffMax); err != nil {
		return s, err
	}
	if s.backoffMax < s.backoff {
		return s, schema.AttrError("probe_backoff_max", "must not be shorter than probe_backoff")
	}
	if c.PasswordFile != "" {
		if _, err := readPasswordFile(c.PasswordFile); err != nil {
			return s, schema.AttrError("password_file", err.Error())
		}
	}
	if s.mode == modeLocal && s.node == "" {
		h, err := os.Hostname()
		if err != nil {
			return s, schema.AttrError("node", "the hostname is unknown ("+err.Error()+"); set node")
		}
		s.node = h
	}
	return s, nil
}

func positiveDuration(attr, v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, schema.AttrError(attr, fmt.Sprintf("must be a positive duration such as \"2s\", got %q", v))
	}
	return d, nil
}

// readPasswordFile returns the file's first line.
func readPasswordFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read password file: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimRight(line, "\r"), nil
}

// target is one BMC to poll. Its password never leaves this struct: node,
// key and display are safe to log and to use in resource IDs.
type target struct {
	local    bool
	device   int
	host     string
	port     int
	user     string
	password string
	node     string // resource ID of node meters and prefix of sensor ones
	key      string // identity of the BMC's state: no password
	display  string // for logs and errors: host:port or /dev/ipmiN
}

// redact hides the userinfo of anything that looks like a URL, for error
// messages about resources we could not parse.
func redact(s string) string {
	if i := strings.Index(s, "://"); i >= 0 {
		if j := strings.LastIndex(s, "@"); j > i {
			return s[:i+3] + "REDACTED@" + s[j+1:]
		}
	}
	return s
}

// parseTarget turns a polled resource into a BMC. Accepted endpoints:
// ipmi://[user[:password]@]host[:port][?node=name]. The node name is the
// node query parameter, else the resource ID when it is not the endpoint
// itself (a discovered resource), else host (host:port off port 623).
func parseTarget(r sample.Resource, s settings) (target, error) {
	ep := r.Endpoint
	if ep == "" {
		ep = r.ID
	}
	u, err := url.Parse(ep)
	if err != nil || u.Scheme != "ipmi" || u.Host == "" || u.Path != "" && u.Path != "/" {
		return target{}, fmt.Errorf("resource %q is not ipmi://[user[:password]@]host[:port][?node=name]", redact(ep))
	}
	t := target{host: u.Hostname(), port: ipmiPort, user: s.username}
	if p := u.Port(); p != "" {
		if t.port, err = strconv.Atoi(p); err != nil || t.port < 1 || t.port > 65535 {
			return target{}, fmt.Errorf("resource %q: port must be 1-65535", redact(ep))
		}
	}
	if t.host == "" {
		return target{}, fmt.Errorf("resource %q: no host", redact(ep))
	}
	if u.User != nil {
		t.user = u.User.Username()
		if pw, ok := u.User.Password(); ok {
			t.password = pw
		}
	}
	if u.User == nil || !hasPassword(u) {
		if t.password, err = s.password(); err != nil {
			return target{}, fmt.Errorf("resource %q: %w", redact(ep), err)
		}
	}
	t.display = net.JoinHostPort(t.host, strconv.Itoa(t.port))
	// Two resources naming one BMC with different credentials are two
	// sessions; the key holds a digest of the password, never the password.
	sum := sha256.Sum256([]byte(t.password))
	t.key = "lan:" + t.user + "@" + t.display + "#" + hex.EncodeToString(sum[:8])
	switch n := u.Query().Get("node"); {
	case n != "":
		t.node = n
	case r.ID != "" && r.ID != r.Endpoint && !strings.Contains(r.ID, "://"):
		t.node = r.ID
	case t.port == ipmiPort:
		t.node = t.host
	default:
		t.node = t.display
	}
	return t, nil
}

func hasPassword(u *url.URL) bool {
	_, ok := u.User.Password()
	return ok
}

// password is the configured password: password_file, else the variable
// named by password_env, else empty.
func (s settings) password() (string, error) {
	if s.passwordFile != "" {
		return readPasswordFile(s.passwordFile)
	}
	if s.passwordEnv != "" {
		return os.Getenv(s.passwordEnv), nil
	}
	return "", nil
}

func localTarget(s settings) target {
	dev := "/dev/ipmi" + strconv.Itoa(s.device)
	return target{local: true, device: s.device, node: s.node, key: "local:" + dev, display: dev}
}

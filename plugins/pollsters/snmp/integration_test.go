package main

import (
	"context"
	"fmt"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/peer"
	"github.com/altimeter/altimeter/sdk/pollster"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/sdktest"
)

// One snmpd serves most integration tests of the package, so that the
// cpu.util test's wait for hrProcessorLoad (about 60 s after start) runs
// alongside the others. It listens on 127.0.0.1 and 127.0.0.2 (distinct
// hosts, so distinct resource IDs). TestMain stops it by PID.
var shared struct {
	once    sync.Once
	s       *peer.Snmpd
	dir     string
	err     error
	started time.Time
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.s != nil {
		shared.s.Stop()
	}
	if shared.dir != "" {
		_ = os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

func sharedSnmpd(t testing.TB) *peer.Snmpd {
	t.Helper()
	peer.Need(t)
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "altimeter-snmpd-")
		if shared.err != nil {
			return
		}
		shared.started = time.Now()
		shared.s, shared.err = peer.StartSnmpd(context.Background(), shared.dir, peer.SnmpdOptions{ExtraHosts: []string{"127.0.0.2"}})
	})
	require.NoError(t, shared.err)
	return shared.s
}

// URLs of the three ways to reach an agent.
func v2cURL(s *peer.Snmpd, host string) string {
	return fmt.Sprintf("snmp://%s:%d?community=%s", host, s.Port, s.Community)
}

func v3URL(s *peer.Snmpd, host string, u peer.SnmpdUser) string {
	return fmt.Sprintf("snmp://%s:%s@%s:%d?auth_protocol=%s&priv_protocol=%s&priv_password=%s",
		u.Name, u.AuthPassword, host, s.Port, strings.ToLower(u.AuthProtocol), strings.ToLower(u.PrivProtocol), u.PrivPassword)
}

// toolValues runs snmpget (oids ending in .0 or given as scalars) or snmpwalk
// and returns value text by numeric OID (leading dot).
func toolValues(t *testing.T, s *peer.Snmpd, auth []string, scalars []string, walks []string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out := map[string]string{}
	var lines []string
	if len(scalars) > 0 {
		l, err := s.Get(ctx, auth, scalars...)
		require.NoError(t, err)
		lines = append(lines, l...)
	}
	for _, w := range walks {
		l, err := s.Walk(ctx, auth, w)
		require.NoError(t, err)
		lines = append(lines, l...)
	}
	for _, l := range lines {
		oid, val, ok := strings.Cut(l, " = ")
		if !ok {
			continue
		}
		if _, v, ok := strings.Cut(val, ": "); ok {
			val = v
		}
		out[oid] = strings.Trim(strings.TrimSpace(val), `"`)
	}
	return out
}

func num(t *testing.T, vals map[string]string, oid string) float64 {
	t.Helper()
	s, ok := vals["."+strings.TrimPrefix(oid, ".")]
	require.True(t, ok, "tool output has no %s", oid)
	f, err := strconv.ParseFloat(s, 64)
	require.NoError(t, err, "%s = %q", oid, s)
	return f
}

// byKey indexes samples by "name resource_id".
func byKey(ss []sample.Sample) map[string]sample.Sample {
	out := map[string]sample.Sample{}
	for _, s := range ss {
		out[s.Name+" "+s.ResourceID] = s
	}
	return out
}

func pollOnce(t *testing.T, c *pollster.Client, meters []string, resources ...string) *pollster.Result {
	t.Helper()
	req := pollster.Request{Meters: meters}
	for _, r := range resources {
		req.Resources = append(req.Resources, sample.Resource{ID: r, Endpoint: r})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := c.Poll(ctx, req)
	require.NoError(t, err)
	return res
}

func allMeters() []string {
	var out []string
	for _, m := range meterInfos() {
		out = append(out, m.Name)
	}
	return out
}

// TestIntegrationMatchesTools polls a real snmpd over v2c, v3 SHA/AES and v3
// MD5/DES through the plugin's gRPC interface, and checks every hardware.*
// sample against snmpget/snmpwalk of the same OIDs: gauges equal (or within
// a small tolerance where the value moves), counters bracketed by a tool
// reading taken just before and one just after the poll.
func TestIntegrationMatchesTools(t *testing.T) {
	s := sharedSnmpd(t)
	c := sdktest.Pollster(t, spec(), `timeout = "2s"`)
	cases := []struct {
		name string
		url  string
		auth []string
	}{
		{"v2c", v2cURL(s, "127.0.0.1"), s.V2cArgs()},
		{"v3_sha_aes", v3URL(s, "127.0.0.1", s.SHAAES), s.V3Args(s.SHAAES)},
		{"v3_md5_des", v3URL(s, "127.0.0.1", s.MD5DES), s.V3Args(s.MD5DES)},
	}
	scalars := []string{oidMemTotalReal, oidMemAvailReal, oidMemBuffer, oidMemCached, oidMemTotalSwap, oidMemAvailSwap,
		oidIPInReceives, oidIPOutRequests, oidSsIORawReceived, oidSsIORawSent}
	walks := []string{oidLaLoad, "1.3.6.1.4.1.2021.9.1", oidIfDescr, oidIfPhysAddress, oidIfSpeed, oidIfOutErrors,
		oidIfHCInOctets, oidIfHCOutOctets, oidIPAdEntIfIndex}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := toolValues(t, s, tc.auth, scalars, walks)
			res := pollOnce(t, c, allMeters(), tc.url)
			after := toolValues(t, s, tc.auth, scalars, walks)
			for _, e := range res.Errors {
				t.Logf("resource error: %v", e)
			}
			require.Empty(t, res.Errors)
			got := byKey(res.Samples)
			const host = "127.0.0.1"

			// Exact gauges.
			for _, x := range []struct{ meter, oid string }{
				{mMemTotal, oidMemTotalReal}, {mSwapTotal, oidMemTotalSwap},
			} {
				require.Contains(t, got, x.meter+" "+host)
				require.Equal(t, num(t, before, x.oid), got[x.meter+" "+host].Volume, x.meter)
			}
			// Moving gauges: within the range seen by the tools, plus slack.
			total := num(t, before, oidMemTotalReal)
			within := func(meter string, v, a, b, slack float64) {
				t.Helper()
				lo, hi := math.Min(a, b)-slack, math.Max(a, b)+slack
				require.True(t, v >= lo && v <= hi, "%s = %v, tools saw %v and %v (slack %v)", meter, v, a, b, slack)
			}
			memSlack := total * 0.02
			within(mMemUsed, got[mMemUsed+" "+host].Volume, total-num(t, before, oidMemAvailReal), total-num(t, after, oidMemAvailReal), memSlack)
			within(mMemAvail, got[mMemAvail+" "+host].Volume, num(t, before, oidMemAvailReal), num(t, after, oidMemAvailReal), memSlack)
			within(mMemBuffer, got[mMemBuffer+" "+host].Volume, num(t, before, oidMemBuffer), num(t, after, oidMemBuffer), memSlack)
			within(mMemCached, got[mMemCached+" "+host].Volume, num(t, before, oidMemCached), num(t, after, oidMemCached), memSlack)
			within(mSwapAvail, got[mSwapAvail+" "+host].Volume, num(t, before, oidMemAvailSwap), num(t, after, oidMemAvailSwap), memSlack)
			for i, m := range []string{mLoad1, mLoad5, mLoad15} {
				o := fmt.Sprintf("%s.%d", oidLaLoad, i+1)
				within(m, got[m+" "+host].Volume, num(t, before, o), num(t, after, o), 0.5)
			}
			// Counters: before <= sample <= after.
			for _, x := range []struct{ meter, oid string }{
				{mIPIn, oidIPInReceives}, {mIPOut, oidIPOutRequests}, {mIOInBlock, oidSsIORawReceived}, {mIOOutBlock, oidSsIORawSent},
			} {
				require.Contains(t, got, x.meter+" "+host)
				within(x.meter, got[x.meter+" "+host].Volume, num(t, before, x.oid), num(t, after, x.oid), 0)
				require.Equal(t, sample.Cumulative, got[x.meter+" "+host].Type)
			}

			// Disks: one resource per dskTable row, <host>.<dskPath>.
			nDisks := 0
			for oid, path := range before {
				idx, ok := under(oid, "."+oidDskPath)
				if !ok {
					continue
				}
				nDisks++
				rid := host + "." + path
				tot, used := got[mDiskTotal+" "+rid], got[mDiskUsed+" "+rid]
				require.Equal(t, num(t, before, "1.3.6.1.4.1.2021.9.1.6."+idx), tot.Volume, "disk total %s", rid)
				within(mDiskUsed, used.Volume, num(t, before, "1.3.6.1.4.1.2021.9.1.8."+idx), num(t, after, "1.3.6.1.4.1.2021.9.1.8."+idx), 1024)
				require.Equal(t, path, tot.Metadata["path"])
				require.Equal(t, before["."+oidDskDevice+"."+idx], tot.Metadata["device"])
				require.Equal(t, "KB", tot.Unit)
			}
			require.Positive(t, nDisks, "snmpd (includeAllDisks) reports no disk")

			// Interfaces: <host>.<ifDescr>, metadata as Ceilometer's.
			ips := map[string]string{}
			for oid, ifIndex := range before {
				if ip, ok := under(oid, "."+oidIPAdEntIfIndex); ok {
					ips[ifIndex] = ip
				}
			}
			nIfs := 0
			for oid, name := range before {
				idx, ok := under(oid, "."+oidIfDescr)
				if !ok {
					continue
				}
				nIfs++
				rid := host + "." + name
				in, out, oerr := got[mNetIn+" "+rid], got[mNetOut+" "+rid], got[mNetOutErr+" "+rid]
				within(mNetIn+" "+name, in.Volume, num(t, before, oidIfHCInOctets+"."+idx), num(t, after, oidIfHCInOctets+"."+idx), 0)
				within(mNetOut+" "+name, out.Volume, num(t, before, oidIfHCOutOctets+"."+idx), num(t, after, oidIfHCOutOctets+"."+idx), 0)
				within(mNetOutErr+" "+name, oerr.Volume, num(t, before, oidIfOutErrors+"."+idx), num(t, after, oidIfOutErrors+"."+idx), 0)
				require.Equal(t, name, in.Metadata["name"])
				require.Equal(t, ips[idx], in.Metadata["ip"], "ip of %s", name)
				require.Equal(t, strings.ToLower(strings.ReplaceAll(before["."+oidIfPhysAddress+"."+idx], " ", "")), in.Metadata["mac"], "mac of %s", name)
				require.Equal(t, strconv.FormatFloat(num(t, before, oidIfSpeed+"."+idx)/8, 'f', -1, 64), in.Metadata["speed"])
				require.Equal(t, "B", in.Unit)
				require.Equal(t, sample.Cumulative, in.Type)
			}
			require.Positive(t, nIfs)
			for _, smp := range res.Samples {
				require.NotEmpty(t, smp.MessageID)
				require.NotContains(t, smp.ResourceID, "@")
				for _, v := range smp.Metadata {
					require.NotContains(t, v, s.Community)
				}
			}
		})
	}
}

// captureLog is an hclog logger that also keeps every line, to count how
// often something was logged.
type captureLog struct {
	mu    sync.Mutex
	lines []string
	t     testing.TB
}

func (c *captureLog) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.lines = append(c.lines, string(p))
	c.mu.Unlock()
	c.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func (c *captureLog) count(sub string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, l := range c.lines {
		if strings.Contains(l, sub) {
			n++
		}
	}
	return n
}

func (c *captureLog) all() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.lines, "")
}

func newCapture(t testing.TB) (*captureLog, hclog.Logger) {
	c := &captureLog{t: t}
	return c, hclog.New(&hclog.LoggerOptions{Output: c, Level: hclog.Debug})
}

func newTestPollster(t testing.TB, log hclog.Logger, mod func(*config)) *snmpPollster {
	t.Helper()
	c := defaultConfig()
	if mod != nil {
		mod(&c)
	}
	p, err := newSNMP(c, log)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}

func request(meters []string, urls ...string) pollster.Request {
	req := pollster.Request{Meters: meters}
	for _, u := range urls {
		req.Resources = append(req.Resources, sample.Resource{ID: u, Endpoint: u})
	}
	return req
}

// resourceErrors splits a Poll error into its ResourceErrors.
func resourceErrors(t *testing.T, err error) []*pollster.ResourceError {
	t.Helper()
	if err == nil {
		return nil
	}
	var out []*pollster.ResourceError
	var walk func(error)
	walk = func(e error) {
		if re, ok := e.(*pollster.ResourceError); ok {
			out = append(out, re)
			return
		}
		if u, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range u.Unwrap() {
				walk(x)
			}
			return
		}
		t.Fatalf("poll error is not a ResourceError: %v", e)
	}
	walk(err)
	return out
}

// TestIntegrationWrongPassword: a v3 target with a wrong auth password, one
// with a wrong priv password and one with an unknown user each give one
// clear ResourceError naming the host (never the password), while the good
// target on the same agent is polled.
func TestIntegrationWrongPassword(t *testing.T) {
	s := sharedSnmpd(t)
	capt, log := newCapture(t)
	p := newTestPollster(t, log, nil)
	good := v3URL(s, "127.0.0.1", s.SHAAES)
	wrongAuth := s.SHAAES
	wrongAuth.AuthPassword = "wrong-auth-secret"
	wrongPriv := s.SHAAES
	wrongPriv.PrivPassword = "wrong-priv-secret"
	unknown := s.SHAAES
	unknown.Name = "nobody-here"
	// Distinct hosts, so each error's resource ID says which target failed;
	// snmpd listens on 127.0.0.2 too. The priv and user cases use resource_id.
	req := request([]string{mMemTotal, mNetIn},
		good,
		v3URL(s, "127.0.0.2", wrongAuth),
		v3URL(s, "127.0.0.2", unknown)+"&resource_id=bad-user",
		v3URL(s, "127.0.0.2", wrongPriv)+"&resource_id=bad-priv&timeout=300ms&retries=0",
	)
	for round := 0; round < 2; round++ {
		out, err := p.Poll(context.Background(), req)
		got := byKey(out)
		require.Contains(t, got, mMemTotal+" 127.0.0.1")
		require.Contains(t, got, mNetIn+" 127.0.0.1.lo")
		res := resourceErrors(t, err)
		require.Len(t, res, 3, "%v", err)
		byID := map[string]*pollster.ResourceError{}
		for _, re := range res {
			byID[re.ResourceID] = re
			msg := re.Error()
			for _, secret := range []string{wrongAuth.AuthPassword, wrongPriv.PrivPassword, s.SHAAES.AuthPassword, s.SHAAES.PrivPassword} {
				require.NotContains(t, msg, secret)
			}
			require.Empty(t, re.Meter, "one error per target, not per meter")
			require.Contains(t, msg, "snmp://127.0.0.2:"+s.PortString())
		}
		require.Len(t, byID, 3)
		require.ErrorIs(t, byID["127.0.0.2"], errAuth)
		require.Contains(t, byID["127.0.0.2"].Error(), `auth password or auth_protocol (sha) of v3 user "altsha"`)
		require.ErrorIs(t, byID["bad-user"], errAuth)
		require.Contains(t, byID["bad-user"].Error(), `does not know v3 user "nobody-here"`)
		// A wrong privacy password gets no answer at all from net-snmp.
		require.ErrorIs(t, byID["bad-priv"], errTimeout)
		require.Contains(t, byID["bad-priv"].Error(), "priv_password")
		t.Logf("errors: %v", err)
	}
	// Logged once per target (state change), not once per poll.
	require.Equal(t, 3, capt.count("snmp target failing"))
	for _, secret := range []string{wrongAuth.AuthPassword, wrongPriv.PrivPassword, s.SHAAES.AuthPassword, s.SHAAES.PrivPassword} {
		require.NotContains(t, capt.all(), secret)
	}
	require.Equal(t, uint64(4), p.Counters()["auth_failures"])
	require.Equal(t, uint64(2), p.Counters()["timeouts"])
	require.Equal(t, uint64(3), p.Counters()["targets_went_down"])
}

// blackhole is a UDP socket that never answers: a hung or firewalled agent.
func blackhole(t *testing.T, host string) string {
	t.Helper()
	c, err := net.ListenPacket("udp", host+":0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c.LocalAddr().String()
}

// closedPort is a UDP address where nothing listens (ICMP port unreachable).
func closedPort(t *testing.T, host string) string {
	t.Helper()
	c, err := net.ListenPacket("udp", host+":0")
	require.NoError(t, err)
	addr := c.LocalAddr().String()
	require.NoError(t, c.Close())
	return addr
}

type doneRecord struct {
	id  string
	at  time.Duration // since the poll started
	err error
}

func recordDone(p *snmpPollster) (func() time.Time, func() []doneRecord) {
	var mu sync.Mutex
	var start time.Time
	var recs []doneRecord
	p.onTargetDone = func(id string, _ time.Duration, err error) {
		mu.Lock()
		defer mu.Unlock()
		recs = append(recs, doneRecord{id, time.Since(start), err})
	}
	return func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			start, recs = time.Now(), nil
			return start
		}, func() []doneRecord {
			mu.Lock()
			defer mu.Unlock()
			return append([]doneRecord(nil), recs...)
		}
}

// TestIntegrationDeadTargets: a hung agent (no answer) and a closed port
// beside two live agents. With enough workers the round lasts about one
// timeout and the live targets finish in their own time; with one worker,
// targets that failed last round go last, so live ones are still done
// before one timeout has passed.
func TestIntegrationDeadTargets(t *testing.T) {
	s := sharedSnmpd(t)
	const timeout = time.Second
	hung := "snmp://" + blackhole(t, "127.0.0.3") + "?timeout=1s&retries=0"
	refused := "snmp://" + closedPort(t, "127.0.0.4") + "?timeout=1s&retries=0"
	live := []string{v2cURL(s, "127.0.0.1"), v3URL(s, "127.0.0.2", s.SHAAES)}
	meters := allMeters()

	for _, tc := range []struct {
		name        string
		concurrency int
	}{{"pool", 4}, {"one_worker", 1}} {
		t.Run(tc.name, func(t *testing.T) {
			capt, log := newCapture(t)
			p := newTestPollster(t, log, func(c *config) { c.Concurrency = tc.concurrency })
			begin, done := recordDone(p)
			// Dead targets listed first: the worst order for the first round.
			req := request(meters, append([]string{hung, refused}, live...)...)
			for round := 1; round <= 3; round++ {
				start := begin()
				out, err := p.Poll(context.Background(), req)
				took := time.Since(start)
				recs := done()
				got := byKey(out)
				require.Contains(t, got, mMemTotal+" 127.0.0.1", "round %d", round)
				require.Contains(t, got, mMemTotal+" 127.0.0.2", "round %d", round)
				res := resourceErrors(t, err)
				require.Len(t, res, 2, "%v", err)
				byID := map[string]error{}
				for _, re := range res {
					byID[re.ResourceID] = re
				}
				require.ErrorIs(t, byID["127.0.0.3"], errTimeout)
				require.ErrorIs(t, byID["127.0.0.4"], errRefused)
				var liveAt, hungAt time.Duration
				for _, r := range recs {
					switch r.id {
					case "127.0.0.1", "127.0.0.2":
						require.NoError(t, r.err)
						liveAt = max(liveAt, r.at)
					case "127.0.0.3":
						hungAt = r.at
					}
				}
				t.Logf("round %d: poll took %s, live targets done after %s, hung target after %s", round, took, liveAt, hungAt)
				require.GreaterOrEqual(t, hungAt, timeout-50*time.Millisecond)
				require.Less(t, took, timeout+2*time.Second, "the round waits for the slowest target only")
				if tc.concurrency > 1 || round > 1 {
					require.Less(t, liveAt, timeout, "live targets must not wait for the dead one")
				}
			}
			// Logged once per target when it started failing, not per round.
			require.Equal(t, 2, capt.count("snmp target failing"))
			c := p.Counters()
			require.Equal(t, uint64(3), c["timeouts"])
			require.Equal(t, uint64(3), c["connection_refused"])
			require.Equal(t, uint64(2), c["targets_went_down"])
		})
	}
}

// TestIntegrationPollDeadline: the round's own deadline (the polling
// interval) bounds a hung target even when its timeout is longer; the live
// target's samples are kept and the hung one is reported as cut short, not
// as down.
func TestIntegrationPollDeadline(t *testing.T) {
	s := sharedSnmpd(t)
	capt, log := newCapture(t)
	p := newTestPollster(t, log, nil)
	hung := "snmp://" + blackhole(t, "127.0.0.3") + "?timeout=5s&retries=0"
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	out, err := p.Poll(ctx, request([]string{mMemTotal}, v2cURL(s, "127.0.0.1"), hung))
	took := time.Since(start)
	require.Less(t, took, time.Second, "Poll must return once ctx is done")
	require.Contains(t, byKey(out), mMemTotal+" 127.0.0.1")
	res := resourceErrors(t, err)
	require.Len(t, res, 1)
	require.ErrorIs(t, res[0], errCanceled)
	require.Equal(t, uint64(1), p.Counters()["targets_canceled"])
	require.Zero(t, capt.count("snmp target failing"))
}

// TestIntegrationRecovery: an agent that goes away is counted and logged
// once, and its targets (v2c and v3) recover on the first poll after it is
// back; an agent restarted between two polls (new v3 engine boots) does not
// lose a round.
func TestIntegrationRecovery(t *testing.T) {
	peer.Need(t)
	dir := t.TempDir()
	s, err := peer.StartSnmpd(context.Background(), dir, peer.SnmpdOptions{ExtraHosts: []string{"127.0.0.2"}})
	require.NoError(t, err)
	t.Cleanup(s.Stop)
	capt, log := newCapture(t)
	p := newTestPollster(t, log, func(c *config) { c.Timeout = "300ms"; c.Retries = 0 })
	req := request([]string{mMemTotal, mNetIn}, v2cURL(s, "127.0.0.1"), v3URL(s, "127.0.0.2", s.MD5DES))
	poll := func(wantOK bool) {
		t.Helper()
		out, err := p.Poll(context.Background(), req)
		got := byKey(out)
		if wantOK {
			require.NoError(t, err)
			require.Contains(t, got, mMemTotal+" 127.0.0.1")
			require.Contains(t, got, mMemTotal+" 127.0.0.2")
			return
		}
		require.Empty(t, out)
		require.Len(t, resourceErrors(t, err), 2)
	}
	poll(true)
	s.Stop()
	for range 3 {
		poll(false)
	}
	require.Equal(t, 2, capt.count("snmp target failing"))
	require.NoError(t, s.Restart(context.Background()))
	poll(true)
	require.Equal(t, 2, capt.count("snmp target recovered"))
	poll(true)
	c := p.Counters()
	require.Equal(t, uint64(6), c["target_errors"])
	require.Equal(t, uint64(2), c["targets_went_down"])
	require.Equal(t, uint64(2), c["targets_recovered"])

	// Restarted between polls: the open v3 session meets a new engine.
	require.NoError(t, s.Restart(context.Background()))
	poll(true)
	require.Equal(t, 2, capt.count("snmp target failing"), "no failure logged across a quick restart")
}

// TestIntegrationMalformed: an "agent" answering garbage fails its target
// (counted), never the round or the process.
func TestIntegrationMalformed(t *testing.T) {
	s := sharedSnmpd(t)
	c, err := net.ListenPacket("udp", "127.0.0.5:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	go func() {
		buf := make([]byte, 65536)
		for {
			_, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = c.WriteTo([]byte{0x30, 0x03, 0x02, 0x01, 0xff, 0x00, 0x42}, from)
		}
	}()
	_, log := newCapture(t)
	p := newTestPollster(t, log, func(c *config) { c.Timeout = "300ms"; c.Retries = 0 })
	out, err := p.Poll(context.Background(), request([]string{mMemTotal}, v2cURL(s, "127.0.0.1"), "snmp://"+c.LocalAddr().String()))
	require.Contains(t, byKey(out), mMemTotal+" 127.0.0.1")
	res := resourceErrors(t, err)
	require.Len(t, res, 1)
	require.Equal(t, "127.0.0.5", res[0].ResourceID)
	t.Logf("garbage agent: %v", res[0])
	require.Equal(t, uint64(1), p.Counters()["target_errors"])
}

// TestIntegrationCPUUtil waits for snmpd's first minute to pass
// (hrProcessorLoad and ssCpuIdle have no value before) and checks
// hardware.cpu.util (the mean of hrProcessorLoad) and
// hardware.system_stats.cpu.idle against snmpwalk/snmpget taken around it.
// Before that, the meters are skipped without an error.
func TestIntegrationCPUUtil(t *testing.T) {
	s := sharedSnmpd(t)
	t.Parallel()
	_, log := newCapture(t)
	p := newTestPollster(t, log, nil)
	req := request([]string{mCPUUtil, mCPUIdle, mMemTotal}, v2cURL(s, "127.0.0.1"))
	avgLoad := func() (float64, bool) {
		vals := toolValues(t, s, s.V2cArgs(), nil, []string{oidHrProcessorLoad})
		var sum float64
		var n int
		for oid, v := range vals {
			if _, ok := under(oid, "."+oidHrProcessorLoad); ok {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					return 0, false // "No Such Instance ..."
				}
				sum += f
				n++
			}
		}
		return sum / float64(max(n, 1)), n > 0
	}
	deadline := shared.started.Add(100 * time.Second)
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		out, err := p.Poll(context.Background(), req)
		require.NoError(t, err, "a value the agent does not have yet is no error")
		got := byKey(out)
		require.Contains(t, got, mMemTotal+" 127.0.0.1")
		_, hasUtil := got[mCPUUtil+" 127.0.0.1"]
		_, hasIdle := got[mCPUIdle+" 127.0.0.1"]
		if hasUtil && hasIdle {
			break
		}
		require.True(t, time.Now().Before(deadline), "no hrProcessorLoad/ssCpuIdle %s after snmpd started", time.Since(shared.started))
		<-tick.C
	}
	t.Logf("cpu meters appeared %s after snmpd started", time.Since(shared.started).Round(time.Second))
	a, ok := avgLoad()
	require.True(t, ok)
	idleA := toolValues(t, s, s.V2cArgs(), []string{oidSsCPUIdle}, nil)
	out, err := p.Poll(context.Background(), req)
	require.NoError(t, err)
	b, ok := avgLoad()
	require.True(t, ok)
	idleB := toolValues(t, s, s.V2cArgs(), []string{oidSsCPUIdle}, nil)
	got := byKey(out)
	util := got[mCPUUtil+" 127.0.0.1"]
	require.Equal(t, "%", util.Unit)
	require.Equal(t, sample.Gauge, util.Type)
	require.InDelta(t, (a+b)/2, util.Volume, math.Abs(a-b)/2+5, "cpu.util %v, tools %v and %v", util.Volume, a, b)
	ia, ib := num(t, idleA, oidSsCPUIdle), num(t, idleB, oidSsCPUIdle)
	idle := got[mCPUIdle+" 127.0.0.1"].Volume
	require.InDelta(t, (ia+ib)/2, idle, math.Abs(ia-ib)/2+5, "cpu.idle %v, tools %v and %v", idle, ia, ib)
}

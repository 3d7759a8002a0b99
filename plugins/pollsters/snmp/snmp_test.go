package main

import (
	"context"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/sdk/pollster"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/schema"
	"github.com/altimeter/altimeter/sdk/sdktest"
)

func TestExample(t *testing.T) {
	t.Setenv("SNMP_COMMUNITY", "example-community")
	t.Setenv("SNMP_AUTH_PASSWORD", "example-auth")
	t.Setenv("SNMP_PRIV_PASSWORD", "example-priv")
	s := spec()
	sdktest.CheckExample(t, "example.hcl", s.Info(), s.Register())
}

func testDefaults() secretDefaults {
	return secretDefaults{timeout: time.Second, retries: 1, maxRepetitions: 25}
}

func TestParseTarget(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "secret")
	require.NoError(t, os.WriteFile(file, []byte("file-secret-1\n"), 0o600))
	t.Setenv("TEST_SNMP_SECRET", "env-secret-12")
	cases := []struct {
		name  string
		raw   string
		def   func(*secretDefaults)
		check func(t *testing.T, tg *target)
		err   string
	}{
		{name: "bare host is v2c public", raw: "10.0.0.1", check: func(t *testing.T, tg *target) {
			require.Equal(t, gosnmp.Version2c, tg.version)
			require.Equal(t, "public", tg.community)
			require.Equal(t, uint16(161), tg.port)
			require.Equal(t, "10.0.0.1", tg.resourceID)
			require.Equal(t, "snmp://10.0.0.1:161", tg.display())
		}},
		{name: "ceilometer community as user", raw: "snmp://private@host-a:1161", check: func(t *testing.T, tg *target) {
			require.Equal(t, "private", tg.community)
			require.Equal(t, uint16(1161), tg.port)
			require.Equal(t, "host-a", tg.resourceID)
		}},
		{name: "community param wins", raw: "snmp://x@h?community=c1", check: func(t *testing.T, tg *target) { require.Equal(t, "c1", tg.community) }},
		{name: "community from env", raw: "snmp://h?community_env=TEST_SNMP_SECRET", check: func(t *testing.T, tg *target) { require.Equal(t, "env-secret-12", tg.community) }},
		{name: "community from file", raw: "snmp://h?community_file=" + file, check: func(t *testing.T, tg *target) { require.Equal(t, "file-secret-1", tg.community) }},
		{name: "community from plugin default", raw: "snmp://h", def: func(d *secretDefaults) { d.community = "dflt" }, check: func(t *testing.T, tg *target) { require.Equal(t, "dflt", tg.community) }},
		{name: "v1", raw: "snmp://h?version=1", check: func(t *testing.T, tg *target) { require.Equal(t, gosnmp.Version1, tg.version) }},
		{name: "v3 authPriv from URL", raw: "snmp://u:authpass1@h?priv_password=privpass1", check: func(t *testing.T, tg *target) {
			require.Equal(t, gosnmp.Version3, tg.version)
			require.Equal(t, "u", tg.user)
			require.Equal(t, gosnmp.AuthPriv, tg.level)
			require.Equal(t, gosnmp.SHA, tg.authProto)
			require.Equal(t, gosnmp.AES, tg.privProto)
			g := tg.session()
			require.Equal(t, gosnmp.AuthPriv|gosnmp.Reportable, g.MsgFlags)
		}},
		{name: "v3 md5 des ceilometer names", raw: "snmp://u:authpass1@h?auth_proto=md5&priv_proto=des&priv_password=privpass1", check: func(t *testing.T, tg *target) {
			require.Equal(t, gosnmp.MD5, tg.authProto)
			require.Equal(t, gosnmp.DES, tg.privProto)
		}},
		{name: "v3 authNoPriv", raw: "snmp://u:authpass1@h", check: func(t *testing.T, tg *target) {
			require.Equal(t, gosnmp.AuthNoPriv, tg.level)
			require.Equal(t, gosnmp.NoPriv, tg.privProto)
		}},
		{name: "v3 noAuth", raw: "snmp://u@h?version=3", check: func(t *testing.T, tg *target) { require.Equal(t, gosnmp.NoAuthNoPriv, tg.level) }},
		{name: "v3 secrets from env and file", raw: "snmp://u@h?password_env=TEST_SNMP_SECRET&priv_password_file=" + file + "&security_level=authPriv", check: func(t *testing.T, tg *target) {
			require.Equal(t, "env-secret-12", tg.authPass)
			require.Equal(t, "file-secret-1", tg.privPass)
		}},
		{name: "v3 plugin defaults", raw: "snmp://h?version=3", def: func(d *secretDefaults) {
			d.user, d.authPass, d.privPass, d.authProto, d.privProto = "dfl", "authpass1", "privpass1", "sha256", "aes256"
		}, check: func(t *testing.T, tg *target) {
			require.Equal(t, "dfl", tg.user)
			require.Equal(t, gosnmp.AuthPriv, tg.level)
			require.Equal(t, gosnmp.SHA256, tg.authProto)
			require.Equal(t, gosnmp.AES256, tg.privProto)
		}},
		{name: "tuning and resource id", raw: "snmp://h?timeout=250ms&retries=3&max_repetitions=10&resource_id=sw-1", check: func(t *testing.T, tg *target) {
			require.Equal(t, 250*time.Millisecond, tg.timeout)
			require.Equal(t, 3, tg.retries)
			require.Equal(t, 10, tg.maxRepetitions)
			require.Equal(t, "sw-1", tg.resourceID)
		}},
		{name: "ipv6", raw: "snmp://[::1]:1161", check: func(t *testing.T, tg *target) {
			require.Equal(t, "::1", tg.resourceID)
			require.Equal(t, "snmp://[::1]:1161", tg.display())
		}},
		{name: "scheme", raw: "http://h", err: `scheme "http" is not snmp`},
		{name: "unknown param", raw: "snmp://h?comunity=x", err: `unknown parameter "comunity"`},
		{name: "bad port", raw: "snmp://h:0", err: "not a UDP port"},
		{name: "bad version", raw: "snmp://h?version=4", err: "not 1, 2c or 3"},
		{name: "v3 param on v2c", raw: "snmp://h?version=2c&priv_password=secretsecret", err: "for version 3 only"},
		{name: "community on v3", raw: "snmp://u:authpass1@h?community=c", err: "for versions 1 and 2c only"},
		{name: "password on v2c", raw: "snmp://c:topsecret1@h?version=2c", err: "needs version 3"},
		{name: "short password", raw: "snmp://u:short@h", err: "shorter than the 8"},
		{name: "authPriv without priv", raw: "snmp://u:authpass1@h?security_level=authPriv", err: "needs an auth password and a priv_password"},
		{name: "bad auth proto", raw: "snmp://u:authpass1@h?auth_protocol=sha3", err: "not md5, sha"},
		{name: "bad priv proto", raw: "snmp://u:authpass1@h?priv_protocol=rot13&priv_password=privpass1", err: "not des, aes"},
		{name: "missing env", raw: "snmp://h?community_env=TEST_SNMP_NOT_SET", err: "TEST_SNMP_NOT_SET is empty or unset"},
		{name: "missing file", raw: "snmp://h?community_file=/nonexistent/x", err: "community_file"},
		{name: "two sources", raw: "snmp://h?community=a&community_env=TEST_SNMP_SECRET", err: "at most one of"},
		{name: "repeated", raw: "snmp://h?retries=1&retries=2", err: "given 2 times"},
		{name: "bad timeout", raw: "snmp://h?timeout=soon", err: "not a positive duration"},
		{name: "unparseable keeps secret out", raw: "snmp://u:sec%zzret@h", err: "not a URL"},
		{name: "no host", raw: "snmp://u:secretpass@", err: "no host"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := testDefaults()
			if tc.def != nil {
				tc.def(&d)
			}
			tg, err := parseTarget(tc.raw, d)
			if tc.err != "" {
				require.Error(t, err)
				require.Contains(t, err.Error(), tc.err)
				require.ErrorIs(t, err, errBadURL)
				for _, secret := range []string{"secret", "topsecret1", "authpass1", "privpass1"} {
					require.NotContains(t, err.Error(), secret)
				}
				var ue *urlError
				require.True(t, errors.As(err, &ue))
				require.NotContains(t, ue.host, "sec")
				return
			}
			require.NoError(t, err)
			tc.check(t, tg)
		})
	}
}

func TestHostGuess(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"snmp://u:p@host:1/x": "host", "snmp://[::1]:5": "::1", "snmp://": "unknown", "h%zz": "h%zz",
	} {
		require.Equal(t, want, hostGuess(in), in)
	}
}

func TestCompileMeterErrors(t *testing.T) {
	t.Parallel()
	ok := meterDef{Name: "x.y", OID: "1.3.6.1.2.1.1.3.0", Type: "gauge", Unit: "s"}
	cases := []struct {
		name string
		mod  func(*meterDef)
		attr string
		msg  string
	}{
		{"oid", func(d *meterDef) { d.OID = "sysUpTime.0" }, "meter.0.oid", "not a numeric OID"},
		{"type", func(d *meterDef) { d.Type = "counter" }, "meter.0.type", "unknown sample type"},
		{"unit", func(d *meterDef) { d.Unit = "" }, "meter.0.unit", "must be set"},
		{"name", func(d *meterDef) { d.Name = "a*" }, "meter.0.name", "not a meter name"},
		{"expr syntax", func(d *meterDef) { d.Value = "value +" }, "meter.0.value", "value +"},
		{"expr unknown var", func(d *meterDef) { d.Value = "value * units" }, "meter.0.value", "units"},
		{"var name", func(d *meterDef) { d.Vars = map[string]string{"value": "1.3.6.1.2.1.1.3.0"} }, "meter.0.vars", "not a usable name"},
		{"var oid", func(d *meterDef) { d.Vars = map[string]string{"x": "1.3.x"} }, "meter.0.vars", "not a numeric OID"},
		{"aggregate scalar", func(d *meterDef) { d.Aggregate = "avg" }, "meter.0.aggregate", "only table meters"},
		{"aggregate op", func(d *meterDef) { d.Table, d.Aggregate = true, "median" }, "meter.0.aggregate", "not sum, avg"},
		{"suffix scalar", func(d *meterDef) { d.ResourceSuffix = "name" }, "meter.0.resource_suffix", "only table meters"},
		{"suffix unknown", func(d *meterDef) { d.Table, d.ResourceSuffix = true, "name" }, "meter.0.resource_suffix", "not one of this meter's metadata"},
		{"meta oid", func(d *meterDef) { d.Metadata = []metaDef{{Name: "n", OID: "x"}} }, "meter.0.metadata.0.oid", "not a numeric OID"},
		{"meta format", func(d *meterDef) { d.Metadata = []metaDef{{Name: "n", OID: "1.3.6.1", Format: "bin"}} }, "meter.0.metadata.0.format", "not auto"},
		{"meta value needs number", func(d *meterDef) { d.Metadata = []metaDef{{Name: "n", OID: "1.3.6.1", Format: "hex", Value: "value"}} }, "meter.0.metadata.0.value", "format = \"number\""},
		{"index_of scalar", func(d *meterDef) { d.Metadata = []metaDef{{Name: "n", OID: "1.3.6.1", IndexOf: true}} }, "meter.0.metadata.0.index_of", "only table meters"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := ok
			tc.mod(&d)
			_, err := compileMeter(d, "meter.0.")
			require.Error(t, err)
			attrs := schema.AttributeErrors(err)
			require.NotEmpty(t, attrs, "%v", err)
			require.Equal(t, tc.attr, attrs[0].Attribute)
			require.Contains(t, err.Error(), tc.msg)
		})
	}
	_, err := compileMeter(ok, "meter.0.")
	require.NoError(t, err)
}

// TestConfigDiagnostics configures the plugin over gRPC with bad values and
// checks the host gets a diagnostic on the right attribute.
func TestConfigDiagnostics(t *testing.T) {
	cases := []struct {
		name, src, want string
	}{
		{"concurrency", `concurrency = 0`, "config.hcl:1,15-16: Invalid value for concurrency"},
		{"timeout", `timeout = "fast"`, "config.hcl:1,11-17: Invalid value for timeout"},
		{"meter oid", "meter \"a.b\" {\n  oid = \"ifInOctets\"\n  type = \"gauge\"\n  unit = \"B\"\n}", "config.hcl:2,9-21: Invalid value for meter.0.oid"},
		{"duplicate meter", "meter \"a.b\" {\n oid = \"1.3.6.1.2.1.1.3.0\"\n type = \"gauge\"\n unit = \"B\"\n}\nmeter \"a.b\" {\n oid = \"1.3.6.1.2.1.1.3.0\"\n type = \"gauge\"\n unit = \"B\"\n}", "defined twice"},
		{"community env", `community_env = "TEST_SNMP_UNSET_VAR"`, "TEST_SNMP_UNSET_VAR is empty or unset"},
		{"no meters", `default_meters = false`, "no meters left"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := spec()
			p := sdktest.Start(t, s.Info(), s.Register())
			diags := p.Configure(t, tc.src)
			require.True(t, diags.HasErrors(), tc.src)
			require.Contains(t, diags.Error(), tc.want)
		})
	}
}

// TestPollContract runs Poll over gRPC with resources that fail before any
// packet is sent: bad URLs and unknown meters become per-resource errors
// that never quote a secret.
func TestPollContract(t *testing.T) {
	c := sdktest.Pollster(t, spec(), ``)
	res, err := c.Poll(context.Background(), pollster.Request{
		Meters: []string{mMemTotal, "hardware.nope"},
		Resources: []sample.Resource{
			{ID: "snmp://admin:hunter2hunter2@sw-1?auth_protocol=sha3", Endpoint: "snmp://admin:hunter2hunter2@sw-1?auth_protocol=sha3"},
			{ID: "ftp://sw-2"},
		},
	})
	require.NoError(t, err)
	require.Empty(t, res.Samples)
	var ids []string
	for _, e := range res.Errors {
		ids = append(ids, e.ResourceID+"|"+e.Meter)
		require.NotContains(t, e.Err.Error(), "hunter2")
	}
	require.ElementsMatch(t, []string{"|hardware.nope", "sw-1|", "sw-2|"}, ids)
}

// pdu builders for the evaluate tests.
func intPDU(oid string, v int) gosnmp.SnmpPDU {
	return gosnmp.SnmpPDU{Name: oid, Type: gosnmp.Integer, Value: v}
}
func gaugePDU(oid string, v uint) gosnmp.SnmpPDU {
	return gosnmp.SnmpPDU{Name: oid, Type: gosnmp.Gauge32, Value: v}
}
func c64PDU(oid string, v uint64) gosnmp.SnmpPDU {
	return gosnmp.SnmpPDU{Name: oid, Type: gosnmp.Counter64, Value: new(big.Int).SetUint64(v).Uint64()}
}
func strPDU(oid, v string) gosnmp.SnmpPDU {
	return gosnmp.SnmpPDU{Name: oid, Type: gosnmp.OctetString, Value: []byte(v)}
}

func table(rows map[string]gosnmp.SnmpPDU, order ...string) *column {
	return &column{order: order, rows: rows}
}

// TestEvaluate feeds the default meters a synthetic agent reading (no
// network) and checks Ceilometer's values, resource IDs and metadata.
func TestEvaluate(t *testing.T) {
	t.Parallel()
	p, err := newSNMP(defaultConfig(), hclog.NewNullLogger())
	require.NoError(t, err)
	tg, err := parseTarget("snmp://node-1", testDefaults())
	require.NoError(t, err)
	f := &fetched{
		scalars: map[string]gosnmp.SnmpPDU{
			"." + oidLaLoad + ".1":   strPDU("", "0.42"),
			"." + oidLaLoad + ".2":   strPDU("", "not-a-number"),
			"." + oidLaLoad + ".3":   {Type: gosnmp.NoSuchInstance},
			"." + oidMemTotalReal:    intPDU("", 8000),
			"." + oidMemAvailReal:    intPDU("", 3000),
			"." + oidSsIORawSent:     {Type: gosnmp.Counter32, Value: uint(77)},
			"." + oidIPInReceives:    {Type: gosnmp.Counter32, Value: uint(5)},
			"." + oidMemTotalSwap:    intPDU("", -1), // a broken agent: negative stays negative
			"." + oidSsCPUIdle:       {Type: gosnmp.NoSuchObject},
			"." + oidSsIORawReceived: {Type: gosnmp.Counter32, Value: uint(1)},
		},
		columns: map[string]*column{
			"." + oidHrProcessorLoad: table(map[string]gosnmp.SnmpPDU{"196608": intPDU("", 10), "196609": intPDU("", 30)}, "196608", "196609"),
			"." + oidDskPath:         table(map[string]gosnmp.SnmpPDU{"1": strPDU("", "/"), "2": strPDU("", "/srv")}, "1", "2"),
			"." + oidDskDevice:       table(map[string]gosnmp.SnmpPDU{"1": strPDU("", "/dev/sda1"), "2": strPDU("", "/dev/sdb")}, "1", "2"),
			"." + oidDskTotalLow:     table(map[string]gosnmp.SnmpPDU{"1": gaugePDU("", 100), "2": gaugePDU("", 5)}, "1", "2"),
			"." + oidDskTotalHigh:    table(map[string]gosnmp.SnmpPDU{"1": gaugePDU("", 0), "2": gaugePDU("", 2)}, "1", "2"),
			"." + oidIfHCInOctets:    table(map[string]gosnmp.SnmpPDU{"1": c64PDU("", 1<<40), "2": c64PDU("", 9)}, "1", "2"),
			"." + oidIfDescr:         table(map[string]gosnmp.SnmpPDU{"1": strPDU("", "lo"), "2": strPDU("", "eth0")}, "1", "2"),
			"." + oidIfSpeed:         table(map[string]gosnmp.SnmpPDU{"1": gaugePDU("", 10000000), "2": gaugePDU("", 1000000000)}, "1", "2"),
			"." + oidIfPhysAddress:   table(map[string]gosnmp.SnmpPDU{"1": strPDU("", ""), "2": {Type: gosnmp.OctetString, Value: []byte{0x02, 0x42, 0xac, 0x11, 0, 2}}}, "1", "2"),
			"." + oidIPAdEntIfIndex:  table(map[string]gosnmp.SnmpPDU{"127.0.0.1": intPDU("", 1), "10.1.2.3": intPDU("", 2), "10.1.2.4": intPDU("", 2)}, "10.1.2.3", "10.1.2.4", "127.0.0.1"),
		},
	}
	pl, errs := p.selectMeters([]string{mLoad1, mLoad5, mLoad15, mMemTotal, mMemUsed, mCPUUtil, mCPUIdle, mDiskTotal, mNetIn, mIOOutBlock, mIOInBlock, mIPIn, mSwapTotal})
	require.Empty(t, errs)
	now := time.Unix(1700000000, 0).UTC()
	out, merrs := p.evaluate(tg, pl.meters, f, now)
	got := byKey(out)
	vol := func(key string) float64 {
		t.Helper()
		s, ok := got[key]
		require.True(t, ok, "no sample %s", key)
		return s.Volume
	}
	require.Equal(t, 0.42, vol(mLoad1+" node-1"))
	require.NotContains(t, got, mLoad5+" node-1")
	require.NotContains(t, got, mLoad15+" node-1", "no value: skipped, no error")
	require.NotContains(t, got, mCPUIdle+" node-1")
	require.Len(t, merrs, 1)
	var re *pollster.ResourceError
	require.ErrorAs(t, merrs[0], &re)
	require.Equal(t, mLoad5, re.Meter)
	require.Equal(t, "node-1", re.ResourceID)
	require.Equal(t, 8000.0, vol(mMemTotal+" node-1"))
	require.Equal(t, 5000.0, vol(mMemUsed+" node-1"))
	require.Equal(t, -1.0, vol(mSwapTotal+" node-1"))
	require.Equal(t, 20.0, vol(mCPUUtil+" node-1"))
	require.Equal(t, 100.0, vol(mDiskTotal+" node-1./"))
	require.Equal(t, 2*4294967296.0+5, vol(mDiskTotal+" node-1./srv"))
	require.Equal(t, "/dev/sdb", got[mDiskTotal+" node-1./srv"].Metadata["device"])
	require.Equal(t, float64(1<<40), vol(mNetIn+" node-1.lo"))
	eth := got[mNetIn+" node-1.eth0"]
	require.Equal(t, map[string]string{"host": "node-1", "name": "eth0", "speed": "125000000", "mac": "0242ac110002", "ip": "10.1.2.3"}, eth.Metadata)
	require.Equal(t, "", got[mNetIn+" node-1.lo"].Metadata["mac"])
	require.Equal(t, 77.0, vol(mIOOutBlock+" node-1"))
	require.Equal(t, sample.Cumulative, got[mIOOutBlock+" node-1"].Type)
	require.Equal(t, "blocks", got[mIOOutBlock+" node-1"].Unit)
	for _, s := range out {
		require.Equal(t, now, s.Timestamp)
		require.Len(t, s.MessageID, 36)
	}
}

// TestCustomMeter: an operator's table meter with vars, metadata and a
// resource suffix, decoded from HCL, selected by the block's patterns.
func TestCustomMeter(t *testing.T) {
	t.Parallel()
	c := defaultConfig()
	c.Meters = []meterDef{{
		Name: "hardware.storage.used", OID: "1.3.6.1.2.1.25.2.3.1.6", Type: "gauge", Unit: "B", Table: true,
		Vars: map[string]string{"units": "1.3.6.1.2.1.25.2.3.1.4"}, Value: "value * units", ResourceSuffix: "descr",
		Metadata: []metaDef{{Name: "descr", OID: "1.3.6.1.2.1.25.2.3.1.3"}},
	}}
	p, err := newSNMP(c, hclog.NewNullLogger())
	require.NoError(t, err)
	pl, errs := p.selectMeters([]string{mMemTotal})
	require.Empty(t, errs)
	require.Len(t, pl.meters, 1, "a name selects that meter only")
	pl, errs = p.selectMeters([]string{mMemTotal, "hardware.storage.*"})
	require.Empty(t, errs)
	require.Len(t, pl.meters, 2, "a glob selects configured meters too")
	require.ElementsMatch(t, []string{".1.3.6.1.2.1.25.2.3.1.6", ".1.3.6.1.2.1.25.2.3.1.4", ".1.3.6.1.2.1.25.2.3.1.3"}, pl.columns)
	require.Equal(t, []string{"." + oidMemTotalReal}, pl.scalars)
	tg, _ := parseTarget("snmp://n", testDefaults())
	f := &fetched{scalars: map[string]gosnmp.SnmpPDU{"." + oidMemTotalReal: intPDU("", 1)}, columns: map[string]*column{
		".1.3.6.1.2.1.25.2.3.1.6": table(map[string]gosnmp.SnmpPDU{"1": intPDU("", 10), "7": intPDU("", 3)}, "1", "7"),
		".1.3.6.1.2.1.25.2.3.1.4": table(map[string]gosnmp.SnmpPDU{"1": intPDU("", 4096), "7": intPDU("", 1024)}, "1", "7"),
		".1.3.6.1.2.1.25.2.3.1.3": table(map[string]gosnmp.SnmpPDU{"1": strPDU("", "Physical memory")}, "1"),
	}}
	out, errs := p.evaluate(tg, pl.meters, f, time.Now())
	require.Empty(t, errs)
	got := byKey(out)
	require.Equal(t, 40960.0, got["hardware.storage.used n.Physical memory"].Volume)
	require.Equal(t, 3072.0, got["hardware.storage.used n.7"].Volume, "row without the suffix metadata: named by index")
	_, errs = p.selectMeters([]string{"hardware.storage.used"})
	require.Empty(t, errs)
}

func TestOIDHelpers(t *testing.T) {
	t.Parallel()
	s, ok := under(".1.3.6.1.2.1.4.20.1.2.10.0.0.1", ".1.3.6.1.2.1.4.20.1.2")
	require.True(t, ok)
	require.Equal(t, "10.0.0.1", s)
	_, ok = under(".1.3.6.1.2.1.4.20.1.20", ".1.3.6.1.2.1.4.20.1.2")
	require.False(t, ok)
	_, ok = under(".1.3.6.1.2.1.4.20.1.2", ".1.3.6.1.2.1.4.20.1.2")
	require.False(t, ok)
	require.Equal(t, -1, compareOID(".1.3.6.1.2", ".1.3.6.1.10"))
	require.Equal(t, 1, compareOID(".1.3.6.2", ".1.3.6.1.10"))
	require.Equal(t, 0, compareOID("1.3.6", ".1.3.6"))
	require.Less(t, compareOID(".1.3", ".1.3.0"), 0)
	for _, in := range []string{"1.3", ".1.3.6", "1.3.6.1.2.1.1.3.0"} {
		o, err := normOID(in)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(o, ".1."))
	}
	for _, in := range []string{"", "1", "1..3", "sysUpTime", "1.3.", ".1.3 "} {
		_, err := normOID(in)
		require.Error(t, err, in)
	}
}

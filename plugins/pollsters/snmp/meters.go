package main

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"github.com/gosnmp/gosnmp"

	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/schema"
)

// meterDef declares one meter: where its value lives and how to turn it
// into samples. The default set (defaultMeters) and the operator's `meter`
// blocks share this form.
type meterDef struct {
	Name        string `hcl:"name,label"`
	OID         string `hcl:"oid" desc:"Numeric OID of the value: the instance OID (ending in .0) of a scalar, or the column OID of a table."`
	Type        string `hcl:"type" desc:"Sample type: gauge, delta or cumulative."`
	Unit        string `hcl:"unit" desc:"Sample unit, as Ceilometer names it (B, KB, %, process...)."`
	Description string `hcl:"description,optional" desc:"What the meter measures."`
	Table       bool   `hcl:"table,optional" desc:"Walk oid as a table column (GetBulk) and emit one sample per row, instead of getting one scalar."`
	// Vars names further OIDs whose numeric values the value expression may
	// use: instance OIDs for a scalar meter, column OIDs (read at the same
	// row) for a table meter.
	Vars map[string]string `hcl:"vars,optional" desc:"Further OIDs by name, usable in value: instance OIDs for a scalar meter, column OIDs (same row) for a table meter."`
	// Value is an expression (expr-lang) giving the volume from `value` (the
	// OID's number), the vars and `metadata`; empty means value itself.
	Value string `hcl:"value,optional" desc:"Expression (expr-lang) for the volume, over value, the vars and metadata[\"key\"]; empty means value."`
	// Aggregate folds the rows of a table meter into one target-level sample.
	Aggregate string `hcl:"aggregate,optional" desc:"Table meters only: fold all rows into one sample of the target with sum, avg, min or max."`
	// ResourceSuffix names the metadata key whose value, appended to the
	// target's resource ID after a dot, names each row of a table meter.
	ResourceSuffix string    `hcl:"resource_suffix,optional" desc:"Table meters only: metadata key whose value suffixes the resource ID (<host>.<value>); the row index when unset or empty."`
	Metadata       []metaDef `hcl:"metadata,block"`
}

// metaDef is one metadata key of a meter.
type metaDef struct {
	Name string `hcl:"name,label"`
	OID  string `hcl:"oid" desc:"Numeric OID: an instance OID for a scalar meter, a column OID for a table meter."`
	// Format renders the value: auto (text if printable, else hex), string,
	// hex, or number.
	Format string `hcl:"format,optional" desc:"auto (printable text, else hex), string, hex or number."`
	// Value is an expression over the number `value`, for format number.
	Value string `hcl:"value,optional" desc:"Expression (expr-lang) over value, for numeric metadata (e.g. \"value / 8\")."`
	// IndexOf looks the row up by value instead of by index: the metadata is
	// the index of the row of OID whose value equals this row's index (the IP
	// address of an interface from ipAdEntIfIndex).
	IndexOf bool `hcl:"index_of,optional" desc:"Table meters only: the metadata is the index of the row of oid whose value equals this row's index (e.g. the IP address of an interface)."`
}

// Meter names, as Ceilometer's SNMP hardware pollsters name them.
const (
	mLoad1      = "hardware.cpu.load.1min"
	mLoad5      = "hardware.cpu.load.5min"
	mLoad15     = "hardware.cpu.load.15min"
	mCPUUtil    = "hardware.cpu.util"
	mMemTotal   = "hardware.memory.total"
	mMemUsed    = "hardware.memory.used"
	mMemAvail   = "hardware.memory.avail"
	mMemBuffer  = "hardware.memory.buffer"
	mMemCached  = "hardware.memory.cached"
	mSwapTotal  = "hardware.memory.swap.total"
	mSwapAvail  = "hardware.memory.swap.avail"
	mDiskTotal  = "hardware.disk.size.total"
	mDiskUsed   = "hardware.disk.size.used"
	mNetIn      = "hardware.network.incoming.bytes"
	mNetOut     = "hardware.network.outgoing.bytes"
	mNetOutErr  = "hardware.network.outgoing.errors"
	mIPIn       = "hardware.network.ip.incoming.datagrams"
	mIPOut      = "hardware.network.ip.outgoing.datagrams"
	mCPUIdle    = "hardware.system_stats.cpu.idle"
	mIOInBlock  = "hardware.system_stats.io.incoming.blocks"
	mIOOutBlock = "hardware.system_stats.io.outgoing.blocks"
)

// Well-known OIDs of the default set (UCD-SNMP-MIB, IF-MIB, IP-MIB,
// HOST-RESOURCES-MIB), written numerically: Debian ships none of these MIBs.
const (
	oidLaLoad          = "1.3.6.1.4.1.2021.10.1.3"
	oidMemTotalSwap    = "1.3.6.1.4.1.2021.4.3.0"
	oidMemAvailSwap    = "1.3.6.1.4.1.2021.4.4.0"
	oidMemTotalReal    = "1.3.6.1.4.1.2021.4.5.0"
	oidMemAvailReal    = "1.3.6.1.4.1.2021.4.6.0"
	oidMemBuffer       = "1.3.6.1.4.1.2021.4.14.0"
	oidMemCached       = "1.3.6.1.4.1.2021.4.15.0"
	oidDskPath         = "1.3.6.1.4.1.2021.9.1.2"
	oidDskDevice       = "1.3.6.1.4.1.2021.9.1.3"
	oidDskTotalLow     = "1.3.6.1.4.1.2021.9.1.11"
	oidDskTotalHigh    = "1.3.6.1.4.1.2021.9.1.12"
	oidDskUsedLow      = "1.3.6.1.4.1.2021.9.1.15"
	oidDskUsedHigh     = "1.3.6.1.4.1.2021.9.1.16"
	oidIfDescr         = "1.3.6.1.2.1.2.2.1.2"
	oidIfSpeed         = "1.3.6.1.2.1.2.2.1.5"
	oidIfPhysAddress   = "1.3.6.1.2.1.2.2.1.6"
	oidIfOutErrors     = "1.3.6.1.2.1.2.2.1.20"
	oidIfHCInOctets    = "1.3.6.1.2.1.31.1.1.1.6"
	oidIfHCOutOctets   = "1.3.6.1.2.1.31.1.1.1.10"
	oidIPAdEntIfIndex  = "1.3.6.1.2.1.4.20.1.2"
	oidIPInReceives    = "1.3.6.1.2.1.4.3.0"
	oidIPOutRequests   = "1.3.6.1.2.1.4.10.0"
	oidSsCPUIdle       = "1.3.6.1.4.1.2021.11.11.0"
	oidSsIORawSent     = "1.3.6.1.4.1.2021.11.57.0"
	oidSsIORawReceived = "1.3.6.1.4.1.2021.11.58.0"
	oidHrProcessorLoad = "1.3.6.1.2.1.25.3.3.1.2"
)

// defaultMeters is Ceilometer's hardware.* SNMP set
// (ceilometer/hardware/pollsters/data/snmp.yaml), with the deliberate
// differences the README lists.
func defaultMeters() []meterDef {
	disk := []metaDef{{Name: "path", OID: oidDskPath}, {Name: "device", OID: oidDskDevice}}
	net := []metaDef{
		{Name: "name", OID: oidIfDescr},
		{Name: "speed", OID: oidIfSpeed, Format: "number", Value: "value / 8"},
		{Name: "mac", OID: oidIfPhysAddress, Format: "hex"},
		{Name: "ip", OID: oidIPAdEntIfIndex, IndexOf: true},
	}
	const b32 = "4294967296"
	return []meterDef{
		{Name: mLoad1, OID: oidLaLoad + ".1", Type: "gauge", Unit: "process", Description: "Load average over 1 minute (laLoad.1)."},
		{Name: mLoad5, OID: oidLaLoad + ".2", Type: "gauge", Unit: "process", Description: "Load average over 5 minutes (laLoad.2)."},
		{Name: mLoad15, OID: oidLaLoad + ".3", Type: "gauge", Unit: "process", Description: "Load average over 15 minutes (laLoad.3)."},
		{Name: mCPUUtil, OID: oidHrProcessorLoad, Type: "gauge", Unit: "%", Table: true, Aggregate: "avg", Description: "CPU utilisation over the last minute, averaged over processors (hrProcessorLoad); absent for the agent's first minute."},
		{Name: mMemTotal, OID: oidMemTotalReal, Type: "gauge", Unit: "KB", Description: "Total physical memory (memTotalReal)."},
		{Name: mMemUsed, OID: oidMemAvailReal, Type: "gauge", Unit: "KB", Vars: map[string]string{"total": oidMemTotalReal}, Value: "total - value", Description: "Physical memory in use, buffers and cache included (memTotalReal - memAvailReal)."},
		{Name: mMemAvail, OID: oidMemAvailReal, Type: "gauge", Unit: "KB", Description: "Free physical memory (memAvailReal)."},
		{Name: mMemBuffer, OID: oidMemBuffer, Type: "gauge", Unit: "KB", Description: "Memory used for buffers (memBuffer)."},
		{Name: mMemCached, OID: oidMemCached, Type: "gauge", Unit: "KB", Description: "Memory used for the page cache (memCached)."},
		{Name: mSwapTotal, OID: oidMemTotalSwap, Type: "gauge", Unit: "KB", Description: "Total swap space (memTotalSwap)."},
		{Name: mSwapAvail, OID: oidMemAvailSwap, Type: "gauge", Unit: "KB", Description: "Free swap space (memAvailSwap)."},
		{Name: mDiskTotal, OID: oidDskTotalLow, Type: "gauge", Unit: "KB", Table: true, Vars: map[string]string{"high": oidDskTotalHigh}, Value: "high * " + b32 + " + value", ResourceSuffix: "path", Metadata: disk, Description: "Size of a disk, per dskTable entry (dskTotalHigh/Low)."},
		{Name: mDiskUsed, OID: oidDskUsedLow, Type: "gauge", Unit: "KB", Table: true, Vars: map[string]string{"high": oidDskUsedHigh}, Value: "high * " + b32 + " + value", ResourceSuffix: "path", Metadata: disk, Description: "Used space of a disk, per dskTable entry (dskUsedHigh/Low)."},
		{Name: mNetIn, OID: oidIfHCInOctets, Type: "cumulative", Unit: "B", Table: true, ResourceSuffix: "name", Metadata: net, Description: "Bytes received, per interface (ifHCInOctets)."},
		{Name: mNetOut, OID: oidIfHCOutOctets, Type: "cumulative", Unit: "B", Table: true, ResourceSuffix: "name", Metadata: net, Description: "Bytes sent, per interface (ifHCOutOctets)."},
		{Name: mNetOutErr, OID: oidIfOutErrors, Type: "cumulative", Unit: "packet", Table: true, ResourceSuffix: "name", Metadata: net, Description: "Transmit errors, per interface (ifOutErrors)."},
		{Name: mIPIn, OID: oidIPInReceives, Type: "cumulative", Unit: "datagrams", Description: "IP datagrams received (ipInReceives)."},
		{Name: mIPOut, OID: oidIPOutRequests, Type: "cumulative", Unit: "datagrams", Description: "IP datagrams sent (ipOutRequests)."},
		{Name: mCPUIdle, OID: oidSsCPUIdle, Type: "gauge", Unit: "%", Description: "CPU idle time over the last minute (ssCpuIdle); absent for the agent's first minute."},
		{Name: mIOInBlock, OID: oidSsIORawReceived, Type: "cumulative", Unit: "blocks", Description: "Blocks read from block devices (ssIORawReceived)."},
		{Name: mIOOutBlock, OID: oidSsIORawSent, Type: "cumulative", Unit: "blocks", Description: "Blocks written to block devices (ssIORawSent)."},
	}
}

// meterInfos is the default set as Spec.Meters declares it.
func meterInfos() []sample.MeterInfo {
	defs := defaultMeters()
	out := make([]sample.MeterInfo, 0, len(defs))
	for _, d := range defs {
		t, _ := sample.ParseType(d.Type)
		out = append(out, sample.MeterInfo{Name: d.Name, Type: t, Unit: d.Unit, Description: d.Description})
	}
	return out
}

// meter is a compiled meterDef.
type meter struct {
	info      sample.MeterInfo
	oid       string // with a leading dot, as gosnmp names OIDs
	table     bool
	vars      []namedOID
	value     *vm.Program // nil: the value itself
	aggregate string
	suffixKey string
	meta      []metaSpec
	custom    bool // not in the default set
}

type namedOID struct {
	name, oid string
}

type metaSpec struct {
	name, oid, format string
	value             *vm.Program
	indexOf           bool
}

var (
	oidRe   = regexp.MustCompile(`^\.?[0-9]+(\.[0-9]+)+$`)
	identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// normOID checks a numeric OID and returns it with a leading dot.
func normOID(s string) (string, error) {
	if !oidRe.MatchString(s) {
		return "", fmt.Errorf("%q is not a numeric OID such as \"1.3.6.1.2.1.1.3.0\"", s)
	}
	if !strings.HasPrefix(s, ".") {
		s = "." + s
	}
	return s, nil
}

// compileMeter checks d and compiles it; path is the attribute path prefix
// for errors ("meter.2.").
func compileMeter(d meterDef, path string) (*meter, error) {
	var errs []error
	bad := func(attr, detail string) { errs = append(errs, schema.AttrError(path+attr, detail)) }
	m := &meter{table: d.Table, aggregate: d.Aggregate, suffixKey: d.ResourceSuffix}
	m.info.Name, m.info.Unit, m.info.Description = d.Name, d.Unit, d.Description
	if d.Name == "" || strings.ContainsAny(d.Name, " \t\n*?[") {
		bad("name", fmt.Sprintf("%q is not a meter name such as \"hardware.cpu.load.1min\"", d.Name))
	}
	t, err := sample.ParseType(d.Type)
	if err != nil {
		bad("type", err.Error())
	}
	m.info.Type = t
	if d.Unit == "" {
		bad("unit", "must be set (B, KB, %, process, packet...)")
	}
	if m.oid, err = normOID(d.OID); err != nil {
		bad("oid", err.Error())
	}
	env := map[string]any{"value": 0.0, "metadata": map[string]string{}}
	names := make([]string, 0, len(d.Vars))
	for k := range d.Vars {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if !identRe.MatchString(k) || k == "value" || k == "metadata" {
			bad("vars", fmt.Sprintf("%q is not a usable name: use letters, digits and _ (not value or metadata)", k))
			continue
		}
		o, err := normOID(d.Vars[k])
		if err != nil {
			bad("vars", fmt.Sprintf("%s: %v", k, err))
			continue
		}
		m.vars = append(m.vars, namedOID{k, o})
		env[k] = 0.0
	}
	if d.Value != "" {
		p, err := expr.Compile(d.Value, expr.Env(env), expr.AsFloat64())
		if err != nil {
			bad("value", fmt.Sprintf("%q: %v", d.Value, err))
		}
		m.value = p
	}
	switch d.Aggregate {
	case "":
	case "sum", "avg", "min", "max":
		if !d.Table {
			bad("aggregate", "only table meters aggregate rows: set table = true or remove aggregate")
		}
	default:
		bad("aggregate", fmt.Sprintf("%q is not sum, avg, min or max", d.Aggregate))
	}
	if d.ResourceSuffix != "" && !d.Table {
		bad("resource_suffix", "only table meters have rows to name: set table = true or remove resource_suffix")
	}
	found := d.ResourceSuffix == ""
	for i, md := range d.Metadata {
		mp := fmt.Sprintf("metadata.%d.", i)
		ms := metaSpec{name: md.Name, format: md.Format, indexOf: md.IndexOf}
		if md.Name == d.ResourceSuffix {
			found = true
		}
		if ms.oid, err = normOID(md.OID); err != nil {
			bad(mp+"oid", err.Error())
		}
		switch md.Format {
		case "":
			ms.format = "auto"
			if md.Value != "" {
				ms.format = "number"
			}
		case "auto", "string", "hex", "number":
		default:
			bad(mp+"format", fmt.Sprintf("%q is not auto, string, hex or number", md.Format))
		}
		if md.Value != "" {
			if ms.format != "number" {
				bad(mp+"value", "a value expression needs format = \"number\"")
			}
			p, err := expr.Compile(md.Value, expr.Env(map[string]any{"value": 0.0}), expr.AsFloat64())
			if err != nil {
				bad(mp+"value", fmt.Sprintf("%q: %v", md.Value, err))
			}
			ms.value = p
		}
		if md.IndexOf && !d.Table {
			bad(mp+"index_of", "only table meters have a row index to look up")
		}
		m.meta = append(m.meta, ms)
	}
	if !found {
		bad("resource_suffix", fmt.Sprintf("%q is not one of this meter's metadata blocks", d.ResourceSuffix))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return m, nil
}

// errNoValue marks an OID the agent has no value for (noSuchObject,
// noSuchInstance, endOfMibView, or absent from a walk): the sample is
// skipped, as Ceilometer skips None values.
var errNoValue = errors.New("no value at OID")

// pduFloat returns the numeric value of a varbind. Text (laLoad is a
// DisplayString such as "0.42") is parsed as a decimal number.
func pduFloat(p gosnmp.SnmpPDU) (float64, error) {
	switch p.Type {
	case gosnmp.NoSuchObject, gosnmp.NoSuchInstance, gosnmp.EndOfMibView, gosnmp.Null:
		return 0, errNoValue
	case gosnmp.Integer:
		return float64(gosnmp.ToBigInt(p.Value).Int64()), nil
	case gosnmp.Counter32, gosnmp.Gauge32, gosnmp.TimeTicks, gosnmp.Counter64, gosnmp.Uinteger32:
		return float64(gosnmp.ToBigInt(p.Value).Uint64()), nil
	case gosnmp.OpaqueFloat:
		if f, ok := p.Value.(float32); ok {
			return float64(f), nil
		}
	case gosnmp.OpaqueDouble:
		if f, ok := p.Value.(float64); ok {
			return f, nil
		}
	case gosnmp.OctetString:
		if b, ok := p.Value.([]byte); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return 0, fmt.Errorf("%s: text %q is not a number", p.Name, truncate(string(b), 32))
			}
			return f, nil
		}
	}
	return 0, fmt.Errorf("%s: %s value is not a number", p.Name, p.Type)
}

// pduText renders a varbind as metadata in the given format.
func pduText(p gosnmp.SnmpPDU, format string) (string, error) {
	switch p.Type {
	case gosnmp.NoSuchObject, gosnmp.NoSuchInstance, gosnmp.EndOfMibView, gosnmp.Null:
		return "", errNoValue
	}
	if format == "number" {
		f, err := pduFloat(p)
		if err != nil {
			return "", err
		}
		return strconv.FormatFloat(f, 'f', -1, 64), nil
	}
	switch v := p.Value.(type) {
	case []byte:
		switch format {
		case "hex":
			return fmt.Sprintf("%x", v), nil
		case "string":
			return strings.ToValidUTF8(string(v), "\uFFFD"), nil
		}
		if printable(v) {
			return string(v), nil
		}
		return fmt.Sprintf("%x", v), nil
	case string: // IPAddress, ObjectIdentifier
		return strings.TrimPrefix(v, "."), nil
	default:
		f, err := pduFloat(p)
		if err != nil {
			return "", err
		}
		return strconv.FormatFloat(f, 'f', -1, 64), nil
	}
}

func printable(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

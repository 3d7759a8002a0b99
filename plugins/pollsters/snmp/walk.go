package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/gosnmp/gosnmp"
)

// maxRowsPerColumn bounds a table walk, so an agent that never ends a
// column (or loops) cannot keep a worker forever.
const maxRowsPerColumn = 100000

// errMalformed is a response that breaks the protocol (OIDs not
// increasing, wrong variable count); the target's round fails.
var errMalformed = errors.New("malformed response")

// column is the rows of one table column, in walk order, by index suffix
// (without the leading dot: "1", "192.0.2.1").
type column struct {
	order []string
	rows  map[string]gosnmp.SnmpPDU
}

// fetched is what one round read from a target.
type fetched struct {
	scalars map[string]gosnmp.SnmpPDU // by OID with a leading dot
	columns map[string]*column        // by column OID with a leading dot
}

// cell is the varbind of column col at row idx (zero if absent).
func (f *fetched) cell(col, idx string) gosnmp.SnmpPDU {
	if c := f.columns[col]; c != nil {
		if v, ok := c.rows[idx]; ok {
			return v
		}
	}
	return gosnmp.SnmpPDU{Type: gosnmp.NoSuchInstance}
}

// getScalars reads oids with GET requests of at most gosnmp.MaxOids each.
// An OID the agent lacks comes back as noSuchObject/noSuchInstance.
func getScalars(g *gosnmp.GoSNMP, oids []string, into map[string]gosnmp.SnmpPDU) error {
	for start := 0; start < len(oids); start += g.MaxOids {
		chunk := oids[start:min(start+g.MaxOids, len(oids))]
		pkt, err := g.Get(chunk)
		if err != nil {
			return err
		}
		if pkt.Error != gosnmp.NoError {
			if g.Version == gosnmp.Version1 && pkt.Error == gosnmp.NoSuchName {
				// SNMPv1 fails the whole GET for one missing OID: ask one by one.
				for _, o := range chunk {
					if err := getScalars1(g, o, into); err != nil {
						return err
					}
				}
				continue
			}
			return fmt.Errorf("get: agent error %s at variable %d", pkt.Error, pkt.ErrorIndex)
		}
		if len(pkt.Variables) != len(chunk) {
			return fmt.Errorf("get: %w: %d variables for %d OIDs", errMalformed, len(pkt.Variables), len(chunk))
		}
		for i, v := range pkt.Variables {
			into[chunk[i]] = v
		}
	}
	return nil
}

func getScalars1(g *gosnmp.GoSNMP, oid string, into map[string]gosnmp.SnmpPDU) error {
	pkt, err := g.Get([]string{oid})
	if err != nil {
		return err
	}
	if pkt.Error == gosnmp.NoSuchName || len(pkt.Variables) != 1 {
		into[oid] = gosnmp.SnmpPDU{Name: oid, Type: gosnmp.NoSuchObject}
		return nil
	}
	if pkt.Error != gosnmp.NoError {
		return fmt.Errorf("get: agent error %s", pkt.Error)
	}
	into[oid] = pkt.Variables[0]
	return nil
}

// walkColumns reads every row of the given columns. With v2c and v3 it asks
// for all unfinished columns at once in each GETBULK (reps rows each), so a
// table of n columns and r rows costs about r/reps round trips, not n*r/reps.
func walkColumns(g *gosnmp.GoSNMP, cols []string, reps int, into map[string]*column) error {
	for start := 0; start < len(cols); start += g.MaxOids {
		chunk := cols[start:min(start+g.MaxOids, len(cols))]
		var err error
		if g.Version == gosnmp.Version1 {
			err = walkNext(g, chunk, into)
		} else {
			err = walkBulk(g, chunk, reps, into)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func walkBulk(g *gosnmp.GoSNMP, cols []string, reps int, into map[string]*column) error {
	type cursor struct {
		col  string
		last string
		c    *column
	}
	active := make([]*cursor, 0, len(cols))
	for _, c := range cols {
		cl := &column{rows: map[string]gosnmp.SnmpPDU{}}
		into[c] = cl
		active = append(active, &cursor{col: c, last: c, c: cl})
	}
	for len(active) > 0 {
		oids := make([]string, len(active))
		for i, a := range active {
			oids[i] = a.last
		}
		pkt, err := g.GetBulk(oids, 0, uint32(reps))
		if err != nil {
			return err
		}
		if pkt.Error != gosnmp.NoError {
			return fmt.Errorf("getbulk: agent error %s at variable %d", pkt.Error, pkt.ErrorIndex)
		}
		if len(pkt.Variables) == 0 {
			return fmt.Errorf("getbulk: %w: no variables", errMalformed)
		}
		done := make([]bool, len(active))
		progressed := make([]bool, len(active))
		for i, v := range pkt.Variables {
			k := i % len(active)
			a := active[k]
			if done[k] {
				continue
			}
			suffix, ok := under(v.Name, a.col)
			if !ok || v.Type == gosnmp.EndOfMibView || v.Type == gosnmp.NoSuchObject || v.Type == gosnmp.NoSuchInstance {
				done[k] = true
				continue
			}
			if compareOID(v.Name, a.last) <= 0 {
				return fmt.Errorf("getbulk %s: %w: OID %s does not follow %s", a.col, errMalformed, v.Name, a.last)
			}
			a.last = v.Name
			a.c.order = append(a.c.order, suffix)
			a.c.rows[suffix] = v
			progressed[k] = true
			if len(a.c.order) > maxRowsPerColumn {
				return fmt.Errorf("getbulk %s: %w: more than %d rows", a.col, errMalformed, maxRowsPerColumn)
			}
		}
		next := active[:0]
		for k, a := range active {
			// A column the agent returned nothing for (a truncated response)
			// is asked again; one with no progress and no end is malformed.
			if done[k] {
				continue
			}
			if !progressed[k] && k < len(pkt.Variables) {
				return fmt.Errorf("getbulk %s: %w: no progress", a.col, errMalformed)
			}
			next = append(next, a)
		}
		active = next
	}
	return nil
}

// walkNext is the SNMPv1 walk: GETNEXT, one column at a time.
func walkNext(g *gosnmp.GoSNMP, cols []string, into map[string]*column) error {
	for _, c := range cols {
		cl := &column{rows: map[string]gosnmp.SnmpPDU{}}
		into[c] = cl
		err := g.Walk(c, func(v gosnmp.SnmpPDU) error {
			if suffix, ok := under(v.Name, c); ok {
				cl.order = append(cl.order, suffix)
				cl.rows[suffix] = v
			}
			if len(cl.order) > maxRowsPerColumn {
				return fmt.Errorf("walk %s: %w: more than %d rows", c, errMalformed, maxRowsPerColumn)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// under reports whether oid lies under col and returns the suffix without
// the leading dot.
func under(oid, col string) (string, bool) {
	if !strings.HasPrefix(oid, ".") {
		oid = "." + oid
	}
	if len(oid) <= len(col)+1 || !strings.HasPrefix(oid, col) || oid[len(col)] != '.' {
		return "", false
	}
	return oid[len(col)+1:], true
}

// compareOID orders two numeric OIDs lexicographically by arc.
func compareOID(a, b string) int {
	as := strings.Split(strings.TrimPrefix(a, "."), ".")
	bs := strings.Split(strings.TrimPrefix(b, "."), ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		x, _ := strconv.ParseUint(as[i], 10, 64)
		y, _ := strconv.ParseUint(bs[i], 10, 64)
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return len(as) - len(bs)
}

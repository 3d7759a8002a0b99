package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"
)

// Widths past which a cell is cut with "…".
const (
	maxMetaWidth = 60  // metadata and other JSON in a table
	maxCellWidth = 100 // anything else, and each value in a show view
)

// cellKind says how a column's values print.
type cellKind int

const (
	kindText cellKind = iota // strings as is, numbers tidied, JSON compacted
	kindTime                 // RFC 3339 in UTC, whole seconds
	kindMeta                 // compact JSON cut at maxMetaWidth
	kindKV                   // object as k=v,k2=v2
)

// column is one table column over the API's JSON objects.
type column struct {
	Header string
	Key    string
	Kind   cellKind
}

// renderTable prints rows under an upper-case header, columns aligned.
func renderTable(w io.Writer, cols []column, rows []map[string]any) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	hdr := make([]string, len(cols))
	for i, c := range cols {
		hdr[i] = c.Header
	}
	fmt.Fprintln(tw, strings.Join(hdr, "\t"))
	cells := make([]string, len(cols))
	for _, r := range rows {
		for i, c := range cols {
			cells[i] = formatCell(r[c.Key], c.Kind)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// prop is one line of a show view.
type prop struct {
	Name  string
	Value string
}

// renderProps prints a show view: one property a line, values aligned.
func renderProps(w io.Writer, props []prop) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, p := range props {
		fmt.Fprintf(tw, "%s\t%s\n", p.Name, p.Value)
	}
	return tw.Flush()
}

// objectProps lists obj's fields in the given order (kind per field), then
// the keys of its metadata object, one per line as metadata.<key>.
func objectProps(obj map[string]any, fields []column, metaKey string) []prop {
	var out []prop
	for _, f := range fields {
		out = append(out, prop{Name: f.Header, Value: formatCell(obj[f.Key], f.Kind)})
	}
	meta, _ := obj[metaKey].(map[string]any)
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, prop{Name: metaKey + "." + clean(k), Value: truncate(formatCell(meta[k], kindText), maxCellWidth)})
	}
	return out
}

// formatCell renders one JSON value (decoded with UseNumber) for a terminal.
func formatCell(v any, kind cellKind) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		if kind == kindTime {
			return formatTime(x)
		}
		if kind == kindMeta {
			return truncate(clean(x), maxMetaWidth)
		}
		return truncate(clean(x), maxCellWidth)
	case json.Number:
		return formatNumber(x)
	case bool:
		return strconv.FormatBool(x)
	case map[string]any:
		if kind == kindKV {
			return truncate(kvString(x), maxCellWidth)
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	width := maxCellWidth
	if kind == kindMeta {
		width = maxMetaWidth
	}
	return truncate(clean(string(b)), width)
}

// timeLayouts are the timestamp forms the API may send: RFC 3339, and
// Ceilometer's naive UTC form with or without microseconds.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
}

// formatTime prints a timestamp as RFC 3339 in UTC with whole seconds;
// anything it cannot parse is shown as sent.
func formatTime(s string) string {
	if t, ok := parseTime(s); ok {
		return t.UTC().Truncate(time.Second).Format(time.RFC3339)
	}
	return clean(s)
}

// parseTime reads any of timeLayouts (no zone means UTC).
func parseTime(s string) (time.Time, bool) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// formatNumber keeps integers as sent and cuts float noise to 6 decimals.
func formatNumber(n json.Number) string {
	s := n.String()
	if !strings.ContainsAny(s, ".eE") {
		return s
	}
	f, err := n.Float64()
	if err != nil {
		return s
	}
	out := strconv.FormatFloat(f, 'f', -1, 64)
	if i := strings.IndexByte(out, '.'); i >= 0 && len(out)-i-1 > 6 {
		out = strings.TrimRight(strconv.FormatFloat(f, 'f', 6, 64), "0")
		out = strings.TrimSuffix(out, ".")
	}
	return out
}

// kvString renders an object as k=v,k2=v2 in key order.
func kvString(m map[string]any) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + formatCell(m[k], kindText)
	}
	return strings.Join(parts, ",")
}

// clean makes s safe for one table cell: control characters (tabs,
// newlines, escapes) become spaces.
func clean(s string) string {
	if strings.IndexFunc(s, unicode.IsControl) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// truncate cuts s to at most n runes, marking the cut with "…".
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

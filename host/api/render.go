package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/altimeter/altimeter/host/store"
)

// isoTime renders a time as Ceilometer's API does: ISO 8601 in UTC without
// a zone, here always with microseconds; the zero time is null.
type isoTime time.Time

const isoLayout = "2006-01-02T15:04:05.000000"

// MarshalJSON implements json.Marshaler.
func (t isoTime) MarshalJSON() ([]byte, error) {
	tt := time.Time(t)
	if tt.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(tt.UTC().Format(isoLayout))
}

// nullString renders "" as null, as Ceilometer renders a missing user or
// project.
type nullString string

// MarshalJSON implements json.Marshaler.
func (s nullString) MarshalJSON() ([]byte, error) {
	if s == "" {
		return []byte("null"), nil
	}
	return json.Marshal(string(s))
}

// metadataOf is m as Ceilometer's API shows metadata (flatten_metadata):
// a key nested deeper than one level keeps its first dot and joins the
// rest with colons ("a.b.c" is "a.b:c"); queries still name it a.b.c.
func metadataOf(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	deep := false
	for k := range m {
		if strings.Count(k, ".") > 1 || strings.Contains(k, ":") {
			deep = true
			break
		}
	}
	if !deep {
		return m
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[ceilometerMetadataKey(k)] = v
	}
	return out
}

// ceilometerMetadataKey is k.replace('.', ':').replace(':', '.', 1), as
// Ceilometer's flatten_metadata writes a flattened key.
func ceilometerMetadataKey(k string) string {
	return strings.Replace(strings.ReplaceAll(k, ".", ":"), ":", ".", 1)
}

// meterJSON is Ceilometer's Meter.
type meterJSON struct {
	MeterID    string     `json:"meter_id"`
	Name       string     `json:"name"`
	Type       string     `json:"type"`
	Unit       string     `json:"unit"`
	ResourceID nullString `json:"resource_id"`
	ProjectID  nullString `json:"project_id"`
	UserID     nullString `json:"user_id"`
	Source     nullString `json:"source"`
}

func renderMeter(m *store.Meter) meterJSON {
	return meterJSON{
		MeterID: m.MeterID, Name: m.Name, Type: m.Type.String(), Unit: m.Unit,
		ResourceID: nullString(m.ResourceID), ProjectID: nullString(m.ProjectID), UserID: nullString(m.UserID), Source: nullString(m.Source),
	}
}

// renderUniqueMeter renders m as GET /v2/meters?unique=True lists it in
// Ceilometer: one entry per meter name, with null resource, project, user
// and source, and the meter_id of resource "None" (Ceilometer's storage
// drivers return None for them, and Meter builds meter_id from
// "%s+%s" % (resource_id, name)).
func renderUniqueMeter(m *store.Meter) meterJSON {
	return meterJSON{MeterID: store.MeterID("None", m.Name), Name: m.Name, Type: m.Type.String(), Unit: m.Unit}
}

// oldSampleJSON is Ceilometer's OldSample (GET and POST /v2/meters/{name}).
type oldSampleJSON struct {
	CounterName      string            `json:"counter_name"`
	CounterType      string            `json:"counter_type"`
	CounterUnit      string            `json:"counter_unit"`
	CounterVolume    float64           `json:"counter_volume"`
	MessageID        string            `json:"message_id"`
	ResourceID       string            `json:"resource_id"`
	ProjectID        nullString        `json:"project_id"`
	UserID           nullString        `json:"user_id"`
	Source           string            `json:"source"`
	Timestamp        isoTime           `json:"timestamp"`
	RecordedAt       isoTime           `json:"recorded_at"`
	ResourceMetadata map[string]string `json:"resource_metadata"`
}

func renderOldSample(s *store.Sample) oldSampleJSON {
	return oldSampleJSON{
		CounterName: s.Name, CounterType: s.Type.String(), CounterUnit: s.Unit, CounterVolume: s.Volume,
		MessageID: s.MessageID, ResourceID: s.ResourceID, ProjectID: nullString(s.ProjectID),
		UserID: nullString(s.UserID), Source: s.Source, Timestamp: isoTime(s.Timestamp),
		RecordedAt: isoTime(s.RecordedAt), ResourceMetadata: metadataOf(s.Metadata),
	}
}

// sampleJSON is Ceilometer's Sample (/v2/samples, /v2/query/samples).
type sampleJSON struct {
	ID         string            `json:"id"`
	Meter      string            `json:"meter"`
	Type       string            `json:"type"`
	Unit       string            `json:"unit"`
	Volume     float64           `json:"volume"`
	UserID     nullString        `json:"user_id"`
	ProjectID  nullString        `json:"project_id"`
	ResourceID string            `json:"resource_id"`
	Source     string            `json:"source"`
	Timestamp  isoTime           `json:"timestamp"`
	RecordedAt isoTime           `json:"recorded_at"`
	Metadata   map[string]string `json:"metadata"`
}

func renderSample(s *store.Sample) sampleJSON {
	return sampleJSON{
		ID: s.MessageID, Meter: s.Name, Type: s.Type.String(), Unit: s.Unit, Volume: s.Volume,
		UserID: nullString(s.UserID), ProjectID: nullString(s.ProjectID), ResourceID: s.ResourceID,
		Source: s.Source, Timestamp: isoTime(s.Timestamp), RecordedAt: isoTime(s.RecordedAt),
		Metadata: metadataOf(s.Metadata),
	}
}

// linkJSON is Ceilometer's Link.
type linkJSON struct {
	Href string `json:"href"`
	Rel  string `json:"rel"`
}

// resourceJSON is Ceilometer's Resource.
type resourceJSON struct {
	ResourceID           string            `json:"resource_id"`
	ProjectID            nullString        `json:"project_id"`
	UserID               nullString        `json:"user_id"`
	Source               string            `json:"source"`
	FirstSampleTimestamp isoTime           `json:"first_sample_timestamp"`
	LastSampleTimestamp  isoTime           `json:"last_sample_timestamp"`
	Metadata             map[string]string `json:"metadata"`
	Links                []linkJSON        `json:"links"`
}

// renderResource renders r with its self link and, when meterLinks, one
// link per meter, as Ceilometer: base is the application URL.
func renderResource(r *store.Resource, base string, meterLinks bool) resourceJSON {
	links := []linkJSON{{Href: base + "/v2/resources/" + url.PathEscape(r.ResourceID), Rel: "self"}}
	if meterLinks {
		names := append([]string(nil), r.Meters...)
		sort.Strings(names)
		for _, m := range names {
			q := url.Values{"q.field": {"resource_id"}, "q.value": {r.ResourceID}}
			links = append(links, linkJSON{
				Href: base + "/v2/meters/" + url.PathEscape(m) + "?" + q.Encode(),
				Rel:  m,
			})
		}
	}
	return resourceJSON{
		ResourceID: r.ResourceID, ProjectID: nullString(r.ProjectID), UserID: nullString(r.UserID),
		Source: r.Source, FirstSampleTimestamp: isoTime(r.FirstSample), LastSampleTimestamp: isoTime(r.LastSample),
		Metadata: metadataOf(r.Metadata), Links: links,
	}
}

// statisticsJSON is Ceilometer's Statistics. The standard fields are null
// when the request selected aggregates that do not include them.
type statisticsJSON struct {
	Avg           *float64              `json:"avg"`
	Count         *int64                `json:"count"`
	Duration      *float64              `json:"duration"`
	DurationStart isoTime               `json:"duration_start"`
	DurationEnd   isoTime               `json:"duration_end"`
	GroupBy       map[string]nullString `json:"groupby"`
	Max           *float64              `json:"max"`
	Min           *float64              `json:"min"`
	Period        int64                 `json:"period"`
	PeriodStart   isoTime               `json:"period_start"`
	PeriodEnd     isoTime               `json:"period_end"`
	Sum           *float64              `json:"sum"`
	Unit          string                `json:"unit"`
	Aggregate     map[string]float64    `json:"aggregate"`
}

// renderStatistics renders st. aggs are the requested aggregates (nil: the
// standard set); start and end are the query's timestamp bounds, to which
// duration_start and duration_end are clamped as Ceilometer does.
func renderStatistics(st *store.Statistics, aggs []store.Aggregate, start, end time.Time) statisticsJSON {
	out := statisticsJSON{
		Unit: st.Unit, Period: int64(st.Period / time.Second),
		PeriodStart: isoTime(st.PeriodStart), PeriodEnd: isoTime(st.PeriodEnd),
	}
	count := st.Count
	if len(aggs) == 0 {
		out.Count, out.Min, out.Max, out.Sum, out.Avg = &count, finite(st.Min), finite(st.Max), finite(st.Sum), finite(st.Avg)
	} else {
		out.Aggregate = map[string]float64{}
		put := func(k string, v float64) {
			if finite(v) != nil {
				out.Aggregate[k] = v
			}
		}
		for _, a := range aggs {
			switch a.Func {
			case "count":
				out.Count = &count
				put("count", float64(count))
			case "min":
				out.Min = finite(st.Min)
				put("min", st.Min)
			case "max":
				out.Max = finite(st.Max)
				put("max", st.Max)
			case "sum":
				out.Sum = finite(st.Sum)
				put("sum", st.Sum)
			case "avg":
				out.Avg = finite(st.Avg)
				put("avg", st.Avg)
			default:
				key := aggregateKey(a)
				if v, ok := st.Aggregate[key]; ok {
					put(key, v)
				}
			}
		}
		// Anything else the store computed is shown too.
		for k, v := range st.Aggregate {
			if _, ok := out.Aggregate[k]; !ok {
				put(k, v)
			}
		}
	}
	if st.GroupBy != nil {
		// A group of samples without the field (no user, no such
		// metadata) is null, as Ceilometer's storage returns None.
		out.GroupBy = make(map[string]nullString, len(st.GroupBy))
		for k, v := range st.GroupBy {
			out.GroupBy[k] = nullString(v)
		}
	}
	ds, de := st.DurationStart, st.DurationEnd
	if !start.IsZero() && !ds.IsZero() && ds.Before(start) {
		ds = start
	}
	if !end.IsZero() && !de.IsZero() && de.After(end) {
		de = end
	}
	if !ds.IsZero() && !de.IsZero() && !ds.After(de) {
		d := de.Sub(ds).Seconds()
		out.Duration, out.DurationStart, out.DurationEnd = &d, isoTime(ds), isoTime(de)
	}
	return out
}

// finite returns a pointer to v, or nil when v is NaN or infinite (which
// JSON cannot carry).
func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// aggregateKey is how Ceilometer keys an aggregate: "stddev",
// "cardinality/resource_id".
func aggregateKey(a store.Aggregate) string {
	if a.Param == "" {
		return a.Func
	}
	return a.Func + "/" + a.Param
}

// writeList answers a listing as a JSON array, rendering and encoding one
// row at a time and sending every listChunk bytes: an answer is never held
// a second time as JSON, so slow readers hold their rows and a chunk each,
// not a copy of the answer with every row's metadata spelled out. A
// failure once the status is sent (the client went away) ends the
// response; the client sees a truncated body, as from a dropped
// connection.
func writeList[T, J any](c *gin.Context, code int, rows []T, render func(*T) J) {
	var enc *json.Encoder
	writeRows(c, code, len(rows), func(buf *bytes.Buffer, i int) error {
		if enc == nil {
			enc = json.NewEncoder(buf)
		}
		return enc.Encode(render(&rows[i]))
	})
}

// writeOldSamples is writeList for OldSamples, which write their own JSON
// (oldSampleJSON.appendJSON): the same bytes, a third of the CPU.
func writeOldSamples[T any](c *gin.Context, code int, rows []T, render func(*T) oldSampleJSON) {
	writeRows(c, code, len(rows), func(buf *bytes.Buffer, i int) error {
		o := render(&rows[i])
		b, err := o.appendJSON(buf.AvailableBuffer())
		if err != nil {
			return err
		}
		buf.Write(append(b, '\n')) // as json.Encoder ends a value
		return nil
	})
}

// writeRows writes the JSON list of n rows, each appended to buf by
// appendRow, in chunks of listChunk.
func writeRows(c *gin.Context, code int, n int, appendRow func(buf *bytes.Buffer, i int) error) {
	c.Header("Content-Type", "application/json; charset=utf-8")
	c.Status(code)
	buf := listBufs.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 4*listChunk {
			buf.Reset()
			listBufs.Put(buf)
		}
	}()
	buf.Reset()
	buf.WriteByte('[')
	for i := range n {
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := appendRow(buf, i); err != nil {
			_ = c.Error(fmt.Errorf("write answer: row %d: %w", i, err))
			return
		}
		if buf.Len() >= listChunk {
			if _, err := c.Writer.Write(buf.Bytes()); err != nil {
				_ = c.Error(fmt.Errorf("write answer: %w", err))
				return
			}
			buf.Reset()
		}
	}
	buf.WriteByte(']')
	if _, err := c.Writer.Write(buf.Bytes()); err != nil {
		_ = c.Error(fmt.Errorf("write answer: %w", err))
	}
}

// listChunk is how much of a listing is encoded before it is sent.
const listChunk = 32 << 10

// listBufs are the encoding buffers of writeList, reused across requests.
var listBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFormatTime(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"2026-11-22T06:35:42.123456789Z", "2026-11-22T06:35:42Z"},
		{"2026-11-22T06:35:42Z", "2026-11-22T06:35:42Z"},
		{"2026-11-22T07:35:42.999+01:00", "2026-11-22T06:35:42Z"},
		{"2013-05-21T03:18:20.123456", "2013-05-21T03:18:20Z"}, // Ceilometer's naive UTC
		{"2013-05-21T03:18:20", "2013-05-21T03:18:20Z"},
		{"2013-05-21 03:18:20.5", "2013-05-21T03:18:20Z"},
		{"yesterday", "yesterday"},
		{"", ""},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, formatTime(tc.in))
		})
	}
}

func TestFormatCell(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 200)
	cases := []struct {
		name string
		v    any
		kind cellKind
		want string
	}{
		{"nil", nil, kindText, ""},
		{"string", "vm-1", kindText, "vm-1"},
		{"integer kept", json.Number("123456789012345678"), kindText, "123456789012345678"},
		{"float kept", json.Number("0.5"), kindText, "0.5"},
		{"float noise cut", json.Number("33.333333333333336"), kindText, "33.333333"},
		{"float noise to integer", json.Number("2.0000000000000004"), kindText, "2"},
		{"exponent", json.Number("1.5e3"), kindText, "1500"},
		{"bool", true, kindText, "true"},
		{"tab and newline", "a\tb\nc", kindText, "a b c"},
		{"long text cut", long, kindText, strings.Repeat("x", maxCellWidth-1) + "…"},
		{"meta compact and cut", map[string]any{"k": long}, kindMeta, `{"k":"` + strings.Repeat("x", maxMetaWidth-7) + "…"},
		{"meta short", map[string]any{"flavor": "m1.small", "n": json.Number("2")}, kindMeta, `{"flavor":"m1.small","n":2}`},
		{"kv", map[string]any{"resource_id": "vm-1", "project_id": "p1"}, kindKV, "project_id=p1,resource_id=vm-1"},
		{"time", "2026-01-02T03:04:05.678Z", kindTime, "2026-01-02T03:04:05Z"},
		{"list", []any{"a", json.Number("1")}, kindText, `["a",1]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, formatCell(tc.v, tc.kind))
		})
	}
}

func TestRenderTable(t *testing.T) {
	t.Parallel()
	var rows []map[string]any
	require.NoError(t, decode([]byte(`[
		{"id":"s1","resource_id":"vm-1","meter":"cpu","type":"cumulative","volume":12345678901,"unit":"ns","timestamp":"2026-11-22T06:35:42.123456"},
		{"id":"s22","resource_id":"instance-0000002a","meter":"memory.usage","type":"gauge","volume":0.30000000000000004,"unit":"MB","timestamp":"2026-11-22T06:35:43Z"}
	]`), &rows))
	var out bytes.Buffer
	require.NoError(t, renderTable(&out, sampleColumns, rows))
	want := "" +
		"ID   RESOURCE_ID        NAME          TYPE        VOLUME       UNIT  TIMESTAMP\n" +
		"s1   vm-1               cpu           cumulative  12345678901  ns    2026-11-22T06:35:42Z\n" +
		"s22  instance-0000002a  memory.usage  gauge       0.3          MB    2026-11-22T06:35:43Z\n"
	require.Equal(t, want, out.String())

	out.Reset()
	require.NoError(t, renderTable(&out, meterColumns, nil))
	require.Equal(t, "NAME  TYPE  UNIT  RESOURCE_ID  USER_ID  PROJECT_ID\n", out.String())
}

func TestRenderProps(t *testing.T) {
	t.Parallel()
	var obj map[string]any
	require.NoError(t, decode([]byte(`{"resource_id":"vm-1","source":"openstack","user_id":null,"project_id":"p1",
		"first_sample_timestamp":"2026-11-22T06:00:00.5","last_sample_timestamp":"2026-11-22T06:35:42Z",
		"metadata":{"flavor":"m1.small","name":"web\n1","disk":{"gb":20}}}`), &obj))
	var out bytes.Buffer
	require.NoError(t, renderProps(&out, objectProps(obj, resourceFields, "metadata")))
	want := "" +
		"resource_id             vm-1\n" +
		"source                  openstack\n" +
		"user_id                 \n" +
		"project_id              p1\n" +
		"first_sample_timestamp  2026-11-22T06:00:00Z\n" +
		"last_sample_timestamp   2026-11-22T06:35:42Z\n" +
		"metadata.disk           {\"gb\":20}\n" +
		"metadata.flavor         m1.small\n" +
		"metadata.name           web 1\n"
	require.Equal(t, want, out.String())
}

func TestFaultString(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, body, want string }{
		{"ceilometer", `{"error_message":{"faultcode":"Client","faultstring":"Sample s1 not found","debuginfo":null}}`, "Sample s1 not found"},
		{"ceilometer as string", `{"error_message":"{\"faultcode\": \"Client\", \"faultstring\": \"Invalid input for field/attribute op.\"}"}`, "Invalid input for field/attribute op."},
		{"plain string message", `{"error_message":"forbidden"}`, "forbidden"},
		{"house envelope", `{"error":{"code":"not_found","message":"no such meter"}}`, "no such meter"},
		{"text", "Bad Gateway\n", "Bad Gateway"},
		{"empty", "", "(empty answer)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, faultString([]byte(tc.body)))
		})
	}
}

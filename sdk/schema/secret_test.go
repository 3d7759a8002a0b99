package schema

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSecret(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "s")
	if err := os.WriteFile(file, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ALTIMETER_TEST_SECRET", "fromenv")
	for _, tc := range []struct {
		literal, env, file string
		want, attr         string
	}{
		{want: ""},
		{literal: "lit", want: "lit"},
		{env: "ALTIMETER_TEST_SECRET", want: "fromenv"},
		{file: file, want: "s3cret"},
		{literal: "lit", file: file, attr: "telemetry_secret"},
		{env: "ALTIMETER_TEST_UNSET_SECRET", attr: "telemetry_secret_env"},
		{file: filepath.Join(dir, "missing"), attr: "telemetry_secret_file"},
		{file: empty, attr: "telemetry_secret_file"},
	} {
		got, err := Secret("telemetry_secret", tc.literal, tc.env, tc.file)
		if tc.attr != "" {
			aes := AttributeErrors(err)
			if len(aes) != 1 || aes[0].Attribute != tc.attr {
				t.Errorf("%+v: error %v, want one on %s", tc, err, tc.attr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%+v: %q, %v; want %q", tc, got, err, tc.want)
		}
	}
}

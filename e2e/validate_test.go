package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestIntegrationValidate runs `altimeter validate` on fixtures against the
// real plugin binaries: each bad file must give the FILE:LINE:COL diagnostic
// a user would act on, and exit non-zero.
func TestIntegrationValidate(t *testing.T) {
	skipShort(t)
	cases := []struct{ file, want string }{
		{"good.hcl", ""},
		{"unknown_attribute.bad.hcl", "unknown_attribute.bad.hcl:12:5: Unsupported argument"},
		{"wrong_type.bad.hcl", "wrong_type.bad.hcl:12:17: Incorrect attribute value type"},
		{"duplicate_block.bad.hcl", "duplicate_block.bad.hcl:9:1: Duplicate pollster block"},
		{"undefined_sink.bad.hcl", "undefined_sink.bad.hcl:6:22: Reference to undefined sink"},
		{"bad_meter_pattern.bad.hcl", "bad_meter_pattern.bad.hcl:5:33: Both included and excluded meters specified"},
		{"no_such_meter.bad.hcl", "no_such_meter.bad.hcl:5:33: No pollster provides meter"},
		{"syntax.bad.hcl", "syntax.bad.hcl:6:3: Missing item separator"},
		{"plugin_check.bad.hcl", "plugin_check.bad.hcl:11:13: Invalid value for scale"},
		{"expression.bad.hcl", "expression.bad.hcl:12:14: Invalid value for scale: must be an expression giving a number: column 19: unknown name cpu_number"},
		{"missing_plugin.bad.hcl", "missing_plugin.bad.hcl:10:11: Plugin not found"},
		{"pin_mismatch.bad.hcl", "pin_mismatch.bad.hcl:6:10: Plugin binary refused"},
		{"pin_malformed.bad.hcl", "pin_malformed.bad.hcl:2:12: Invalid SHA-256 digest"},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join("testdata", "validate", tc.file)
			cmd := exec.Command(filepath.Join(binDir, "altimeter"), "validate", "-plugin-dir", filepath.Join(binDir, "plugins"), path)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if tc.want == "" {
				require.NoError(t, err, stderr.String())
				require.Contains(t, stdout.String(), "ok")
				return
			}
			var ee *exec.ExitError
			require.ErrorAs(t, err, &ee, "validate must exit non-zero")
			require.Equal(t, 1, ee.ExitCode())
			found := false
			for _, line := range strings.Split(stderr.String(), "\n") {
				found = found || strings.HasPrefix(line, filepath.Join("testdata", "validate", tc.want))
			}
			require.True(t, found, "want a line starting with %q, got:\n%s", tc.want, stderr.String())
		})
	}
}

// TestIntegrationValidateREADME validates the Pipelines example in README.md
// as a user would paste it, and the shipped pipelines.hcl, against the real
// plugins.
func TestIntegrationValidateREADME(t *testing.T) {
	skipShort(t)
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(readme), "### Pipelines\n")
	require.True(t, ok, "README.md has no Pipelines section")
	_, rest, ok = strings.Cut(rest, "```hcl\n")
	require.True(t, ok, "README.md's Pipelines section has no hcl block")
	block, _, ok := strings.Cut(rest, "```")
	require.True(t, ok)
	readmeFile := filepath.Join(t.TempDir(), "readme.hcl")
	require.NoError(t, os.WriteFile(readmeFile, []byte(block), 0o644))
	for _, file := range []string{readmeFile, filepath.Join("..", "pipelines.hcl")} {
		cmd := exec.Command(filepath.Join(binDir, "altimeter"), "validate", "-plugin-dir", filepath.Join(binDir, "plugins"), file)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s:\n%s", file, out)
	}
}

// TestIntegrationValidateAllAtOnce: one run of validate reports every
// planted problem, from the config's own checks to the plugins' schemas
// and constructors, and says why a binary in plugin_dir was ignored. The
// config names its plugin_dir relative to itself, and validate runs from
// elsewhere.
func TestIntegrationValidateAllAtOnce(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	plugins := filepath.Join(dir, "plugins")
	require.NoError(t, os.Mkdir(plugins, 0o755))
	for _, name := range []string{"altimeter-pollster-host", "altimeter-transformer-unit_conversion", "altimeter-publisher-file"} {
		copyFile(t, filepath.Join(binDir, "plugins", name), filepath.Join(plugins, name))
	}
	// A binary whose file name says kafka but which describes itself as file.
	copyFile(t, filepath.Join(binDir, "plugins", "altimeter-publisher-file"), filepath.Join(plugins, "altimeter-publisher-kafka"))
	src, err := os.ReadFile(filepath.Join("testdata", "validate", "all_at_once.bad.hcl"))
	require.NoError(t, err)
	cfg := filepath.Join(dir, "all_at_once.bad.hcl")
	require.NoError(t, os.WriteFile(cfg, append([]byte("agent {\n  plugin_dir = \"plugins\"\n}\n"), src...), 0o644))

	cmd := exec.Command(filepath.Join(binDir, "altimeter"), "validate", cfg)
	cmd.Dir = t.TempDir()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "validate must exit non-zero")
	got := stderr.String()
	// Lines are the fixture's plus the 3 of the agent block.
	for _, want := range []string{
		cfg + ":8:33: Both included and excluded meters specified",
		cfg + ":9:22: Reference to undefined sink",
		cfg + ":14:13: Invalid value for scale",
		cfg + ":18:5: Unsupported argument",
		cfg + `:20:11: Plugin not found: publisher "kafka": plugin not found: its binary was ignored: plugin ` +
			filepath.Join(plugins, "altimeter-publisher-kafka") + `: file name says publisher "kafka" but the plugin describes itself as publisher "file"`,
	} {
		require.Contains(t, got, want+"")
	}
	require.Equal(t, 5, strings.Count(got, "\n"), got)
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(to, b, 0o755))
}

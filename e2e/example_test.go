package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// goIn runs the go tool in dir, as a plugin author would in their own
// module (no workspace).
func goIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go %v in %s:\n%s", args, dir, out)
	return string(out)
}

// TestIntegrationExamplePlugin: the third-party pollster in
// examples/pollster-loadavg passes its own tests, builds from its own
// module, and runs in an agent next to the repository's plugins; the plugin
// snippet in docs/architecture.md compiles as shown.
func TestIntegrationExamplePlugin(t *testing.T) {
	skipShort(t)
	example, err := filepath.Abs(filepath.Join("..", "examples", "pollster-loadavg"))
	require.NoError(t, err)
	goIn(t, example, "vet", "./...")
	goIn(t, example, "test", "-count=1", "./...")

	plugins := filepath.Join(t.TempDir(), "plugins")
	require.NoError(t, os.Mkdir(plugins, 0o755))
	goIn(t, example, "build", "-o", filepath.Join(plugins, "altimeter-pollster-loadavg"), ".")
	copyFile(t, filepath.Join(binDir, "plugins", "altimeter-publisher-file"), filepath.Join(plugins, "altimeter-publisher-file"))

	a := startAgent(t, strings.ReplaceAll(`
agent {
  data_dir   = "{{DATA}}"
  plugin_dir = "PLUGINS"
  api { address = "{{API}}" }
}

pollster "loadavg" {
  resource_id = "web-1"
}

polling "load" {
  interval = "1s"
  meters   = ["loadavg.*"]
  sinks    = ["load"]
}

sink "load" {
  publish "file" { path = "{{DATA}}/load.jsonl" }
}
`, "PLUGINS", plugins))
	require.Equal(t, "running", a.plugins()["pollster.loadavg"].State)
	waitFor(t, 15*time.Second, "load samples", func() bool { return countLines(t, a.path("load.jsonl")) >= 3 })
	b, err := os.ReadFile(a.path("load.jsonl"))
	require.NoError(t, err)
	require.Contains(t, string(b), `"counter_name":"loadavg.15min"`)
	require.Contains(t, string(b), `"resource_id":"web-1"`)

	t.Run("docs/architecture.md snippet compiles", func(t *testing.T) {
		doc, err := os.ReadFile(filepath.Join("..", "docs", "architecture.md"))
		require.NoError(t, err)
		_, rest, ok := strings.Cut(string(doc), "## Writing a plugin\n")
		require.True(t, ok)
		_, rest, ok = strings.Cut(rest, "```go\n")
		require.True(t, ok)
		src, _, ok := strings.Cut(rest, "```")
		require.True(t, ok)
		dir := t.TempDir()
		gomod, err := os.ReadFile(filepath.Join(example, "go.mod"))
		require.NoError(t, err)
		sdk := filepath.Join(filepath.Dir(filepath.Dir(example)), "sdk")
		mod := strings.Replace(string(gomod), "=> ../../sdk", "=> "+sdk, 1)
		mod = strings.Replace(mod, "module example.com/altimeter-pollster-loadavg", "module example.com/snippet", 1)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte(mod), 0o644))
		copyFile(t, filepath.Join(example, "go.sum"), filepath.Join(dir, "go.sum"))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644))
		goIn(t, dir, "vet", ".")
		goIn(t, dir, "build", "-o", filepath.Join(dir, "altimeter-pollster-loadavg"), ".")
	})
}

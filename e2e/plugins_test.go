package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/sdk/base"
)

// TestPluginConventions walks plugins/<kinds>/<name>: each plugin has
// main.go, README.md and example.hcl, its README shows example.hcl as it is,
// and the built binary run by hand describes itself with the directory's
// kind and name.
func TestPluginConventions(t *testing.T) {
	skipShort(t)
	dirs, err := filepath.Glob(filepath.Join("..", "plugins", "*", "*"))
	require.NoError(t, err)
	n := 0
	for _, dir := range dirs {
		kinds, name := filepath.Base(filepath.Dir(dir)), filepath.Base(dir)
		if kinds == "internal" || name == "internal" {
			continue
		}
		n++
		t.Run(kinds+"/"+name, func(t *testing.T) {
			t.Parallel()
			for _, f := range []string{"main.go", "README.md", "example.hcl"} {
				require.FileExists(t, filepath.Join(dir, f))
			}
			example, err := os.ReadFile(filepath.Join(dir, "example.hcl"))
			require.NoError(t, err)
			readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
			require.NoError(t, err)
			require.True(t, strings.Contains(string(readme), strings.TrimSpace(string(example))),
				"README.md must show example.hcl exactly as it is")

			kind := strings.TrimSuffix(kinds, "s")
			out, err := exec.Command(filepath.Join(binDir, "plugins", "altimeter-"+kind+"-"+name)).Output()
			require.NoError(t, err, "a plugin run by hand prints its Describe and exits 0")
			info, err := base.DescribeFromJSON(out)
			require.NoError(t, err)
			require.Equal(t, name, info.Name, "directory name must equal Spec.Name")
			require.Equal(t, kind, info.Kind.String())
		})
	}
	require.GreaterOrEqual(t, n, 4)
}

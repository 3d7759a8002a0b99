package peer

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestIntegrationGnocchi(t *testing.T) {
	Need(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	g, err := StartGnocchi(ctx, t.TempDir())
	require.NoError(t, err)
	t.Cleanup(g.Stop)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.URL+"/v1/resource_type/instance", nil)
	require.NoError(t, err)
	req.SetBasicAuth("admin", "")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "ceilometer-upgrade created Ceilometer's resource types")
}

package peer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Gnocchi is a private Gnocchi 4.4 (Debian's python3-gnocchi, gnocchi-api
// under uwsgi, gnocchi-metricd) on 127.0.0.1, started by StartGnocchi: file
// storage under its directory, a fresh database of the machine's
// PostgreSQL as indexer, basic auth (user "admin" is admin), metricd
// processing every second, and Ceilometer's resource types and archive
// policies created by ceilometer-upgrade. Stop it with Stop.
type Gnocchi struct {
	URL     string
	Dir     string
	api     *Process
	metricd *Process
	db      string
}

// StartGnocchi starts Gnocchi with its state in dir and waits (at most 60 s)
// until its API answers and Ceilometer's resource types exist.
func StartGnocchi(ctx context.Context, dir string) (_ *Gnocchi, err error) {
	for _, bin := range []string{"gnocchi-upgrade", "gnocchi-metricd", "uwsgi", "runuser"} {
		if _, err := exec.LookPath(bin); err != nil {
			return nil, fmt.Errorf("start gnocchi: %s: %w (%s)", bin, err, InstallHint)
		}
	}
	var b [5]byte
	_, _ = rand.Read(b[:])
	db := "gnocchi_" + hex.EncodeToString(b[:])
	g := &Gnocchi{Dir: dir, db: db}
	if err := psql(ctx, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", db, db), fmt.Sprintf("CREATE DATABASE %s OWNER %s TEMPLATE template0", db, db)); err != nil {
		return nil, fmt.Errorf("start gnocchi: %w", err)
	}
	defer func() {
		if err != nil {
			g.Stop()
		}
	}()
	port, err := FreePort("tcp")
	if err != nil {
		return nil, fmt.Errorf("start gnocchi: %w", err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	g.URL = "http://" + addr
	rest := "/usr/lib/python3/dist-packages/gnocchi/rest"
	conf := filepath.Join(dir, "gnocchi.conf")
	ini := fmt.Sprintf(`[DEFAULT]
debug = false
[api]
auth_mode = basic
paste_config = %s/api-paste.ini
[oslo_policy]
policy_file = %s/policy.yaml
[indexer]
url = postgresql://%s:%s@127.0.0.1:5432/%s
[storage]
driver = file
file_basepath = %s
[incoming]
driver = file
file_basepath = %s
[metricd]
workers = 1
metric_processing_delay = 1
`, rest, rest, db, db, db, filepath.Join(dir, "storage"), filepath.Join(dir, "incoming"))
	for _, d := range []string{"storage", "incoming/tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("start gnocchi: %w", err)
		}
	}
	if err := os.WriteFile(conf, []byte(ini), 0o644); err != nil {
		return nil, fmt.Errorf("start gnocchi: %w", err)
	}
	if out, err := exec.CommandContext(ctx, "gnocchi-upgrade", "--config-file", conf, "--sacks-number", "8").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("start gnocchi: gnocchi-upgrade: %w: %s", err, tail(out))
	}
	g.api, err = Start("gnocchi-api", dir, nil, "uwsgi", "--plugin", "http,python3", "--http", addr,
		"--http-keepalive", "--so-keepalive", "--add-header", "Connection: Keep-Alive", "--master", "--die-on-term",
		"--processes", "1", "--threads", "4", "--enable-threads", "--lazy-apps",
		"--wsgi", "gnocchi.rest.wsgi", "--pyargv", "--config-file "+conf)
	if err != nil {
		return nil, err
	}
	client := &http.Client{Timeout: 2 * time.Second}
	if err := g.api.WaitFor(ctx, 60*time.Second, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.URL+"/v1/status?details=false", nil)
		if err != nil {
			return err
		}
		req.SetBasicAuth("admin", "")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET /v1/status: %s", resp.Status)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("start gnocchi: %w", err)
	}
	g.metricd, err = Start("gnocchi-metricd", dir, nil, "gnocchi-metricd", "--config-file", conf)
	if err != nil {
		return nil, err
	}
	cconf := filepath.Join(dir, "ceilometer.conf")
	if err := os.WriteFile(cconf, []byte(fmt.Sprintf("[service_credentials]\nauth_type = gnocchi-basic\nuser = admin\nendpoint = %s\n", g.URL)), 0o644); err != nil {
		return nil, fmt.Errorf("start gnocchi: %w", err)
	}
	// ceilometer-upgrade, from python3-ceilometer's module (the script is
	// in ceilometer-common, whose install sets up a service).
	up := exec.CommandContext(ctx, "/usr/bin/python3", "-c",
		"import sys; from ceilometer.cmd.storage import upgrade; sys.argv = ['ceilometer-upgrade', '--retry', '3', '--config-file', sys.argv[1]]; upgrade()", cconf)
	if out, err := up.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("start gnocchi: ceilometer-upgrade: %w: %s", err, tail(out))
	}
	return g, nil
}

func tail(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 2000 {
		s = s[len(s)-2000:]
	}
	return s
}

// psql runs statements as the postgres superuser of the machine's
// PostgreSQL.
func psql(ctx context.Context, stmts ...string) error {
	args := []string{"-u", "postgres", "--", "psql", "-v", "ON_ERROR_STOP=1", "-q"}
	for _, s := range stmts {
		args = append(args, "-c", s)
	}
	if out, err := exec.CommandContext(ctx, "runuser", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("psql: %w: %s", err, tail(out))
	}
	return nil
}

// Stop stops metricd and the API (by PID) and drops the database. Safe
// twice.
func (g *Gnocchi) Stop() {
	// Both lead their own process group (Start); their workers go with it.
	for _, p := range []*Process{g.metricd, g.api} {
		if p != nil {
			p.Stop()
			_ = syscall.Kill(-p.PID(), syscall.SIGKILL)
		}
	}
	if g.db != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = psql(ctx, "DROP DATABASE IF EXISTS "+g.db+" WITH (FORCE)", "DROP ROLE IF EXISTS "+g.db)
		g.db = ""
	}
}

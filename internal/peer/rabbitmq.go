package peer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The RabbitMQ binaries Debian installs. The /usr/sbin wrappers su to the
// rabbitmq user and serve the system broker; a private broker runs the
// scripts under /usr/lib/rabbitmq/bin directly, as the current user.
const (
	rabbitSystemServer = "/usr/sbin/rabbitmq-server"
	rabbitSystemCtl    = "/usr/sbin/rabbitmqctl"
	rabbitServer       = "/usr/lib/rabbitmq/bin/rabbitmq-server"
	rabbitCtl          = "/usr/lib/rabbitmq/bin/rabbitmqctl"
	epmdBin            = "epmd"

	// SystemRabbitMQAddr is where the machine's own broker listens.
	SystemRabbitMQAddr = "127.0.0.1:5672"

	rabbitStartTimeout = 60 * time.Second
)

// RabbitMQ is a RabbitMQ broker for tests: either the machine's system
// broker (SystemRabbitMQ) or a private one (StartRabbitMQ) with its own
// epmd, ports, Erlang cookie and Mnesia directory under a test directory.
// The default user guest/guest may connect from loopback on both.
type RabbitMQ struct {
	// Addr is host:port of the AMQP listener.
	Addr string

	private bool
	dir     string
	port    int
	node    string
	env     []string
	server  *Process // private only: the rabbitmq-server script
	epmd    *Process // private only
}

// SystemRabbitMQ returns the machine's broker on 127.0.0.1:5672. If the
// port does not answer, it starts the broker as the environment does
// (`rabbitmq-server -detached`) and waits up to 60 s for it. The system
// broker is shared: give each test its own vhost (VHost) and never stop it.
func SystemRabbitMQ(ctx context.Context) (*RabbitMQ, error) {
	r := &RabbitMQ{Addr: SystemRabbitMQAddr}
	probe := DialProbe(r.Addr)
	if probe(ctx) == nil {
		return r, nil
	}
	if _, err := os.Stat(rabbitSystemServer); err != nil {
		return nil, fmt.Errorf("start system rabbitmq: %w (%s)", err, InstallHint)
	}
	out, err := exec.CommandContext(ctx, rabbitSystemServer, "-detached").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("start system rabbitmq: %w: %s", err, strings.TrimSpace(string(out)))
	}
	if err := pollUntil(ctx, rabbitStartTimeout, probe); err != nil {
		return nil, fmt.Errorf("start system rabbitmq: not listening on %s: %w", r.Addr, err)
	}
	return r, nil
}

// StartRabbitMQ starts a private broker with its state in dir: its own epmd
// and Erlang distribution port on loopback, the AMQP listener on a free
// 127.0.0.1 port, no plugins. It waits until the AMQP port accepts
// connections (about 5 s), at most 60 s. Stop it with Stop (by PID, safe
// twice); Kill and Restart simulate a crash and a recovery on the same port.
func StartRabbitMQ(ctx context.Context, dir string) (*RabbitMQ, error) {
	if _, err := os.Stat(rabbitServer); err != nil {
		return nil, fmt.Errorf("start rabbitmq: %w (%s)", err, InstallHint)
	}
	if _, err := exec.LookPath(epmdBin); err != nil {
		return nil, fmt.Errorf("start rabbitmq: %w (%s)", err, InstallHint)
	}
	var ports [3]int
	for i := range ports {
		p, err := FreePort("tcp")
		if err != nil {
			return nil, fmt.Errorf("start rabbitmq: %w", err)
		}
		ports[i] = p
	}
	amqpPort, distPort, epmdPort := ports[0], ports[1], ports[2]
	r := &RabbitMQ{
		Addr:    net.JoinHostPort("127.0.0.1", strconv.Itoa(amqpPort)),
		private: true,
		dir:     dir,
		port:    amqpPort,
		node:    fmt.Sprintf("altimeter%d@localhost", amqpPort),
	}
	for _, d := range []string{"home", "mnesia", "log"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, fmt.Errorf("start rabbitmq: %w", err)
		}
	}
	conf := fmt.Sprintf("listeners.tcp.1 = %s\nloopback_users.guest = true\nlog.console = false\nlog.file.level = info\n", r.Addr)
	files := map[string]string{
		"rabbitmq.conf":     conf,
		"enabled_plugins":   "[].\n",
		"rabbitmq-env.conf": "",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return nil, fmt.Errorf("start rabbitmq: %w", err)
		}
	}
	r.env = []string{
		"HOME=" + filepath.Join(dir, "home"), // .erlang.cookie
		"RABBITMQ_NODENAME=" + r.node,
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		"RABBITMQ_NODE_PORT=" + strconv.Itoa(amqpPort),
		"RABBITMQ_DIST_PORT=" + strconv.Itoa(distPort),
		"ERL_EPMD_PORT=" + strconv.Itoa(epmdPort),
		"ERL_EPMD_ADDRESS=127.0.0.1",
		"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}",
		"RABBITMQ_MNESIA_BASE=" + filepath.Join(dir, "mnesia"),
		"RABBITMQ_LOG_BASE=" + filepath.Join(dir, "log"),
		"RABBITMQ_CONFIG_FILE=" + filepath.Join(dir, "rabbitmq.conf"),
		"RABBITMQ_CONF_ENV_FILE=" + filepath.Join(dir, "rabbitmq-env.conf"),
		"RABBITMQ_ENABLED_PLUGINS_FILE=" + filepath.Join(dir, "enabled_plugins"),
		"RABBITMQ_PID_FILE=" + filepath.Join(dir, "rabbit.pid"),
	}
	// Our own epmd in the foreground, so that it is stopped by PID and not
	// left behind as `epmd -daemon` would be.
	epmd, err := Start("epmd", dir, r.env, epmdBin, "-port", strconv.Itoa(epmdPort), "-address", "127.0.0.1")
	if err != nil {
		return nil, fmt.Errorf("start rabbitmq: %w", err)
	}
	r.epmd = epmd
	if err := epmd.WaitFor(ctx, 10*time.Second, DialProbe(net.JoinHostPort("127.0.0.1", strconv.Itoa(epmdPort)))); err != nil {
		r.Stop()
		return nil, fmt.Errorf("start rabbitmq: %w", err)
	}
	if err := r.startServer(ctx); err != nil {
		r.Stop()
		return nil, err
	}
	return r, nil
}

func (r *RabbitMQ) startServer(ctx context.Context) error {
	_ = os.Remove(r.pidFile())
	p, err := Start("rabbitmq", r.dir, r.env, rabbitServer)
	if err != nil {
		return fmt.Errorf("start rabbitmq: %w", err)
	}
	r.server = p
	if err := p.WaitFor(ctx, rabbitStartTimeout, DialProbe(r.Addr)); err != nil {
		return fmt.Errorf("start rabbitmq: %w", err)
	}
	return nil
}

func (r *RabbitMQ) pidFile() string { return filepath.Join(r.dir, "rabbit.pid") }

// beamPID returns the Erlang VM's PID from the broker's pid file. The
// rabbitmq-server script runs the VM as its child, so this is not the PID
// of r.server.
func (r *RabbitMQ) beamPID() (int, error) {
	b, err := os.ReadFile(r.pidFile())
	if err != nil {
		return 0, fmt.Errorf("read rabbitmq pid file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("read rabbitmq pid file: bad pid %q", b)
	}
	return pid, nil
}

// PID is the Erlang VM's PID of a private broker (to read its CPU time);
// 0 for the system broker or when its pid file cannot be read.
func (r *RabbitMQ) PID() int {
	if !r.private {
		return 0
	}
	pid, err := r.beamPID()
	if err != nil {
		return 0
	}
	return pid
}

// Private reports whether r was started by StartRabbitMQ.
func (r *RabbitMQ) Private() bool { return r.private }

// URL returns the AMQP URL of vhost for guest/guest ("" is the default
// vhost "/").
func (r *RabbitMQ) URL(vhost string) string {
	if vhost == "" {
		vhost = "/"
	}
	return "amqp://guest:guest@" + r.Addr + "/" + url.PathEscape(vhost)
}

// Ctl runs rabbitmqctl against the broker with args and returns its
// combined output.
func (r *RabbitMQ) Ctl(ctx context.Context, args ...string) (string, error) {
	var cmd *exec.Cmd
	if r.private {
		cmd = exec.CommandContext(ctx, rabbitCtl, append([]string{"-n", r.node}, args...)...)
		cmd.Env = append(os.Environ(), r.env...)
		cmd.Dir = r.dir
	} else {
		cmd = exec.CommandContext(ctx, rabbitSystemCtl, args...)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("rabbitmqctl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// AddVHost creates vhost and gives guest every permission on it.
func (r *RabbitMQ) AddVHost(ctx context.Context, vhost string) error {
	if _, err := r.Ctl(ctx, "add_vhost", vhost); err != nil {
		return err
	}
	if _, err := r.Ctl(ctx, "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"); err != nil {
		return err
	}
	return nil
}

// DeleteVHost deletes vhost with its exchanges, queues and messages.
func (r *RabbitMQ) DeleteVHost(ctx context.Context, vhost string) error {
	_, err := r.Ctl(ctx, "delete_vhost", vhost)
	return err
}

// Kill SIGKILLs the broker's Erlang VM (by PID, from its pid file) and waits
// for it to end, as a crash would. Only for a private broker.
func (r *RabbitMQ) Kill() error {
	if !r.private {
		return errors.New("kill rabbitmq: the system broker is shared; use StartRabbitMQ")
	}
	if r.server == nil || r.server.Exited() {
		return nil
	}
	pid, err := r.beamPID()
	if err != nil {
		return fmt.Errorf("kill rabbitmq: %w", err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill rabbitmq: %w", err)
	}
	// The script waits for the VM and exits with it.
	select {
	case <-r.server.done:
	case <-time.After(10 * time.Second):
		r.server.Kill()
	}
	return nil
}

// Restart starts a killed or stopped private broker again on the same port
// with the same Mnesia directory, so durable queues and persistent messages
// survive, and waits until it accepts connections.
func (r *RabbitMQ) Restart(ctx context.Context) error {
	if !r.private {
		return errors.New("restart rabbitmq: the system broker is shared; use StartRabbitMQ")
	}
	if r.server != nil && !r.server.Exited() {
		return errors.New("restart rabbitmq: still running; Kill it first")
	}
	return r.startServer(ctx)
}

// Stop stops a private broker and its epmd by PID (SIGTERM, then SIGKILL of
// the process group after 10 s). Safe to call twice; a no-op for the system
// broker.
func (r *RabbitMQ) Stop() {
	if r == nil || !r.private {
		return
	}
	if r.server != nil {
		r.server.Stop()
	}
	if r.epmd != nil {
		r.epmd.Stop()
	}
}

// Tail returns the end of a private broker's console output and log, for
// error messages.
func (r *RabbitMQ) Tail(n int) string {
	if r.server == nil {
		return ""
	}
	s := r.server.Tail(n)
	if b, err := os.ReadFile(filepath.Join(r.dir, "log", r.node+".log")); err == nil {
		if len(b) > n {
			b = b[len(b)-n:]
		}
		s += "\n" + string(b)
	}
	return s
}

// NeedRabbitMQ returns the system broker for t, starting it if it is down,
// or skips t under -short.
func NeedRabbitMQ(t testing.TB) *RabbitMQ {
	t.Helper()
	Need(t)
	r, err := SystemRabbitMQ(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// NeedPrivateRabbitMQ starts a private broker in a temporary directory of
// t, stopped in t.Cleanup, or skips t under -short.
func NeedPrivateRabbitMQ(t testing.TB) *RabbitMQ {
	t.Helper()
	Need(t)
	r, err := StartRabbitMQ(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	return r
}

// VHost creates a fresh vhost on r for t (guest has every permission on it),
// deletes it in t.Cleanup, and returns its AMQP URL, so tests sharing a
// broker never see each other's exchanges and queues.
func VHost(t testing.TB, r *RabbitMQ) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "test-" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.AddVHost(ctx, name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := r.DeleteVHost(ctx, name); err != nil {
			t.Logf("delete vhost %s: %v", name, err)
		}
	})
	return r.URL(name)
}

// pollUntil runs probe every 100 ms until it succeeds or timeout passes.
func pollUntil(ctx context.Context, timeout time.Duration, probe func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	var last error
	for {
		if last = probe(ctx); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
		case <-t.C:
		}
	}
}

package peer

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// TestIntegrationRabbitMQ starts a private broker, adds a vhost, kills the
// broker by PID and restarts it on the same port; and checks the system
// broker answers (starting it if down).
func TestIntegrationRabbitMQ(t *testing.T) {
	r := NeedPrivateRabbitMQ(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	url := VHost(t, r)
	if !strings.HasPrefix(url, "amqp://guest:guest@"+r.Addr+"/test-") {
		t.Fatalf("url %q", url)
	}
	out, err := r.Ctl(ctx, "list_vhosts")
	if err != nil || !strings.Contains(out, "test-") {
		t.Fatalf("list_vhosts: %v\n%s", err, out)
	}
	if err := r.Kill(); err != nil {
		t.Fatal(err)
	}
	if c, err := net.Dial("tcp", r.Addr); err == nil {
		c.Close()
		t.Fatal("broker still listening after Kill")
	}
	if err := r.Restart(ctx); err != nil {
		t.Fatalf("%v\n%s", err, r.Tail(2000))
	}
	out, err = r.Ctl(ctx, "list_vhosts")
	if err != nil || !strings.Contains(out, "test-") {
		t.Fatalf("vhost lost across restart: %v\n%s", err, out)
	}

	sys := NeedRabbitMQ(t)
	if err := DialProbe(sys.Addr)(ctx); err != nil {
		t.Fatal(err)
	}
}

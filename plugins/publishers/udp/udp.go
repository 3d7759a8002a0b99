package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/altimeter/altimeter/sdk/publisher"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/schema"
)

// Limits.
const (
	// maxDatagram is the largest UDP payload over IPv4.
	maxDatagram = 65507
	// defaultPort is Ceilometer's (udp://host without a port).
	defaultPort = "4952"
)

type config struct {
	Address    string `hcl:"address" desc:"host:port to send to (port 4952 if left out), e.g. \"collector:4952\""`
	SecretFile string `hcl:"telemetry_secret_file,optional" desc:"file holding Ceilometer's [publisher] telemetry_secret, to sign each sample (read at start; unsigned without a secret)"`
	SecretEnv  string `hcl:"telemetry_secret_env,optional" desc:"environment variable holding the telemetry secret (instead of telemetry_secret_file)"`
	MaxSize    int    `hcl:"max_datagram_bytes,optional" desc:"largest datagram to send; a sample that encodes larger is rejected and counted"`
}

func defaultConfig() config { return config{MaxSize: maxDatagram} }

type udpPub struct {
	conn   *net.UDPConn
	addr   *net.UDPAddr
	secret string
	max    int
	log    hclog.Logger

	sent, oversized, sendErrors, skippedEvents atomic.Uint64
}

var _ publisher.Publisher = (*udpPub)(nil)

func newUDP(c config, log hclog.Logger) (*udpPub, error) {
	var errs []error
	addr := c.Address
	if _, _, err := net.SplitHostPort(addr); err != nil && addr != "" && !strings.Contains(addr, ":") {
		addr = net.JoinHostPort(addr, defaultPort)
	}
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil || ua.Port == 0 {
		errs = append(errs, schema.AttrError("address", "must be host:port, e.g. \"127.0.0.1:4952\""))
	}
	secret, err := schema.Secret("telemetry_secret", "", c.SecretEnv, c.SecretFile)
	if err != nil {
		errs = append(errs, err)
	}
	if c.MaxSize < 512 || c.MaxSize > maxDatagram {
		errs = append(errs, schema.AttrError("max_datagram_bytes", "must be from 512 to "+strconv.Itoa(maxDatagram)))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	// An unconnected socket, as Ceilometer's: no ICMP port-unreachable
	// comes back as an error on a later send.
	conn, err := net.ListenUDP(udpNet(ua), nil)
	if err != nil {
		return nil, fmt.Errorf("open udp socket: %w", err)
	}
	return &udpPub{conn: conn, addr: ua, secret: secret, max: c.MaxSize, log: log}, nil
}

func udpNet(a *net.UDPAddr) string {
	if a.IP.To4() != nil {
		return "udp4"
	}
	return "udp6"
}

// Message is the metering message of s (sample.MeteringMessage) with its
// numbers as floats, as Python's msgpack sends them.
func Message(s *sample.Sample, secret string) map[string]any {
	m := sample.MeteringMessage(s, secret)
	for k, v := range m {
		if n, ok := v.(json.Number); ok {
			if f, err := n.Float64(); err == nil {
				m[k] = f
			}
		}
	}
	return m
}

// Publish sends one datagram per sample. A sample too large for a datagram
// is rejected; a send error (no route, buffer full) asks for a retry of
// what was not sent.
func (u *udpPub) Publish(ctx context.Context, b *sample.Batch) error {
	if n := len(b.Events); n > 0 {
		u.skippedEvents.Add(uint64(n))
	}
	rejected := map[int]error{}
	for i := range b.Samples {
		if err := ctx.Err(); err != nil {
			return publisher.Retry(err)
		}
		raw, err := msgpack.Marshal(Message(&b.Samples[i], u.secret))
		if err != nil {
			rejected[i] = fmt.Errorf("encode msgpack: %w", err)
			continue
		}
		if len(raw) > u.max {
			u.oversized.Add(1)
			rejected[i] = fmt.Errorf("sample encodes to %d bytes, more than max_datagram_bytes (%d)", len(raw), u.max)
			continue
		}
		if _, err := u.conn.WriteToUDP(raw, u.addr); err != nil {
			u.sendErrors.Add(1)
			if i == 0 && len(rejected) == 0 {
				return publisher.Retry(fmt.Errorf("send to %s: %w", u.addr, err))
			}
			// Part of the batch went out: the host cannot retry only the
			// rest, so resending it all duplicates what was sent (same
			// message ids, which a deduplicating receiver drops).
			return publisher.Retry(fmt.Errorf("send to %s after %d samples: %w", u.addr, i, err))
		}
		u.sent.Add(1)
	}
	if len(rejected) > 0 {
		return &publisher.ItemsError{Rejected: rejected}
	}
	return nil
}

// Counters implements base.CounterReporter.
func (u *udpPub) Counters() map[string]uint64 {
	return map[string]uint64{
		"sent":           u.sent.Load(),
		"oversized":      u.oversized.Load(),
		"send_errors":    u.sendErrors.Load(),
		"skipped_events": u.skippedEvents.Load(),
	}
}

// Close implements base.Closer.
func (u *udpPub) Close(context.Context) error { return u.conn.Close() }

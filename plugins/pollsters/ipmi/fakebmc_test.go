package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"testing"
	"time"

	gobmc "github.com/bougou/go-ipmi/pkg/bmc"
	"github.com/bougou/go-ipmi/pkg/clock"
	"github.com/bougou/go-ipmi/pkg/hal/mock"
	"github.com/bougou/go-ipmi/pkg/handlers"
	"github.com/bougou/go-ipmi/pkg/server"
	"github.com/bougou/go-ipmi/pkg/transport/udp"
	"github.com/bougou/go-ipmi/pkg/types"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/sdk/pollster"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/sdktest"
)

// fakeBMC is the one fake in these tests, for the two paths ipmi_sim lacks
// (DCMI and Intel Node Manager). It is go-ipmi's own reference BMC server
// (pkg/server: real RMCP+ over UDP on 127.0.0.1, sessions, standard App
// commands such as Get Device ID) to which a test adds handlers for DCMI Get
// Power Reading and the Node Manager commands Ceilometer sends. It counts
// every request it receives, answered or not, by (NetFn, Cmd).
type fakeBMC struct {
	url string
	mu  sync.Mutex
	n   map[[2]uint8]int
}

func (f *fakeBMC) count(netFn, cmd uint8) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n[[2]uint8{netFn, cmd}]
}

type fakeHandler struct {
	netFn, cmd uint8
	fn         func(req []byte) ([]byte, types.CompletionCode)
}

func startFakeBMC(t *testing.T, manufacturer uint32, hs ...fakeHandler) *fakeBMC {
	t.Helper()
	f := &fakeBMC{n: map[[2]uint8]int{}}
	reg := handlers.NewRegistry()
	reg.Use(func(next handlers.Handler) handlers.Handler {
		return handlers.HandlerFunc(func(ctx context.Context, hctx *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
			if hctx != nil {
				f.mu.Lock()
				f.n[[2]uint8{uint8(hctx.Command.NetFn), hctx.Command.ID}]++
				f.mu.Unlock()
			}
			return next.Handle(ctx, hctx, req)
		})
	})
	handlers.RegisterAllHandlers(reg)
	for _, h := range hs {
		reg.RegisterFunc(types.Command{ID: h.cmd, NetFn: types.NetFn(h.netFn), Name: fmt.Sprintf("fake %#02x/%#02x", h.netFn, h.cmd)},
			func(_ context.Context, _ *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
				resp, cc := h.fn(req)
				return resp, cc, nil
			})
	}
	info := gobmc.DeviceInfo{DeviceID: 0x20, DeviceRevision: 1, FirmwareMajor: 1, IPMIVersion: 0x20,
		ManufacturerID: manufacturer, ProductID: 1, AdditionalDeviceSupport: 0x39}
	b := gobmc.New(info, [16]byte{1}, mock.New(), gobmc.WithClock(clock.Real))
	u, err := b.Users.Add(2, "admin")
	require.NoError(t, err)
	u.SetPassword([]byte("fake-pw"))
	u.Enabled = true
	u.ChannelAccess[1] = gobmc.UserChannelAccess{MaxPrivilege: gobmc.PrivilegeLevelAdministrator, Enabled: true}
	conn, err := udp.Listen("127.0.0.1:0")
	require.NoError(t, err)
	srv := server.NewServer(b, conn, server.WithHandlerRegistry(reg))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ctx) }()
	t.Cleanup(func() { cancel(); _ = srv.Close(); _ = conn.Close(); <-done })
	f.url = "ipmi://admin:fake-pw@" + conn.LocalAddr().String() + "?node=fake-node"
	return f
}

const (
	netFnDCMI        = 0x2c
	dcmiPowerReading = 0x02
)

func dcmiPower(watts uint16) func([]byte) ([]byte, types.CompletionCode) {
	return func(req []byte) ([]byte, types.CompletionCode) {
		if len(req) < 1 || req[0] != 0xdc {
			return nil, types.CodeRequestDataFieldInvalid
		}
		r := make([]byte, 18)
		r[0] = 0xdc
		for i := range 4 { // current, minimum, maximum, average
			binary.LittleEndian.PutUint16(r[1+2*i:], watts)
		}
		r[17] = 0x40 // power measurement active
		return r, types.CodeOK
	}
}

func nmVersion(v byte) fakeHandler {
	return fakeHandler{netFn: 0x2e, cmd: nmGetVersion, fn: func([]byte) ([]byte, types.CompletionCode) {
		return []byte{0x57, 0x01, 0x00, v, 0x03, 0x00, 0x01, 0x00}, types.CodeOK
	}}
}

// nmStats answers Get Statistics with value[mode] as the current value.
func nmStats(values map[byte]uint16) fakeHandler {
	return fakeHandler{netFn: 0x2e, cmd: nmGetStatistics, fn: func(req []byte) ([]byte, types.CompletionCode) {
		if len(req) < 4 {
			return nil, types.CodeRequestDataLengthInvalid
		}
		v, ok := values[req[3]]
		if !ok {
			return nil, types.CodeRequestDataFieldInvalid
		}
		r := make([]byte, 20)
		copy(r, intelIANABytes)
		binary.LittleEndian.PutUint16(r[3:], v)
		return r, types.CodeOK
	}}
}

func nmCUPSHandler(index uint16, cpu, mem, io uint64) fakeHandler {
	return fakeHandler{netFn: 0x2e, cmd: nmGetCUPSData, fn: func(req []byte) ([]byte, types.CompletionCode) {
		if len(req) < 4 {
			return nil, types.CodeRequestDataLengthInvalid
		}
		if req[3] == nmCUPSIndex {
			r := append(append([]byte{}, intelIANABytes...), 0, 0)
			binary.LittleEndian.PutUint16(r[3:], index)
			return r, types.CodeOK
		}
		r := make([]byte, 27)
		copy(r, intelIANABytes)
		binary.LittleEndian.PutUint64(r[3:], cpu)
		binary.LittleEndian.PutUint64(r[11:], mem)
		binary.LittleEndian.PutUint64(r[19:], io)
		return r, types.CodeOK
	}}
}

func nodeSamples(out []sample.Sample) map[string]sample.Sample {
	m := map[string]sample.Sample{}
	for _, s := range out {
		m[s.Name] = s
	}
	return m
}

func TestIntegrationDCMIPower(t *testing.T) {
	f := startFakeBMC(t, 0x0002a2, fakeHandler{netFn: netFnDCMI, cmd: dcmiPowerReading, fn: dcmiPower(231)})
	c := sdktest.Pollster(t, spec(), `mode = "remote"`)
	req := pollster.Request{Meters: nodeMeters, Resources: []sample.Resource{{ID: f.url, Endpoint: f.url}}}
	for i := range 3 {
		r, err := c.Poll(context.Background(), req)
		require.NoError(t, err)
		require.Empty(t, r.Errors)
		got := nodeSamples(r.Samples)
		require.Len(t, got, 1, "only power: the BMC is not Intel, so no Node Manager: %v", r.Samples)
		s := got[meterNodePower]
		require.Equal(t, 231.0, s.Volume)
		require.Equal(t, "W", s.Unit)
		require.Equal(t, "fake-node", s.ResourceID)
		require.Equal(t, "dcmi", s.Metadata["source"])
		require.Equal(t, i+1, f.count(netFnDCMI, dcmiPowerReading), "one DCMI request per poll, the first being the probe")
	}
	require.Zero(t, f.count(0x2e, nmGetVersion), "Node Manager is never asked of a non-Intel BMC")
}

func TestIntegrationNodeManager(t *testing.T) {
	f := startFakeBMC(t, intelIANA,
		nmVersion(0x05),
		nmStats(map[byte]uint16{nmStatPower: 187, nmStatInletTemp: 23, nmStatOutletTemp: 41, nmStatAirflow: 530}),
		nmCUPSHandler(42, 61, 12, 7),
	)
	c := sdktest.Pollster(t, spec(), `mode = "remote"`)
	req := pollster.Request{Meters: nodeMeters, Resources: []sample.Resource{{ID: f.url, Endpoint: f.url}}}
	for range 2 {
		r, err := c.Poll(context.Background(), req)
		require.NoError(t, err)
		require.Empty(t, r.Errors)
		got := nodeSamples(r.Samples)
		want := map[string]float64{meterNodePower: 187, meterNodeTemperature: 23, meterNodeOutletTemp: 41, meterNodeAirflow: 530,
			meterNodeCUPS: 42, meterNodeCPUUtil: 61, meterNodeMemUtil: 12, meterNodeIOUtil: 7}
		require.Len(t, got, len(want))
		for m, v := range want {
			require.Equal(t, v, got[m].Volume, m)
			require.Equal(t, "fake-node", got[m].ResourceID)
			require.Equal(t, "node_manager", got[m].Metadata["source"])
		}
	}
	require.Equal(t, 1, f.count(0x2e, nmGetVersion), "Node Manager probed once")
	require.Zero(t, f.count(netFnDCMI, dcmiPowerReading), "power comes from Node Manager; DCMI is not asked")
}

func TestIntegrationStopAskingUnsupported(t *testing.T) {
	// An Intel BMC without Node Manager and without DCMI: both answer
	// "invalid command" (no handler), once each, and are never asked again.
	f := startFakeBMC(t, intelIANA)
	p := newTestIPMI(t, sdktest.Logger(t), "1s")
	now := time.Unix(1_000_000, 0)
	p.now = func() time.Time { return now }
	req := pollster.Request{Meters: nodeMeters, Resources: []sample.Resource{{ID: f.url, Endpoint: f.url}}}
	for range 4 {
		out, err := p.Poll(context.Background(), req)
		require.NoError(t, err)
		require.Empty(t, out)
		now = now.Add(45 * time.Minute) // past any backoff: only "unsupported" keeps it quiet
	}
	require.Equal(t, 1, f.count(0x2e, nmGetVersion))
	require.Equal(t, 1, f.count(netFnDCMI, dcmiPowerReading))
	require.Equal(t, uint64(2), p.Counters()["capability_missing"])
}

func TestIntegrationProbeBackoff(t *testing.T) {
	// DCMI answers "node busy" twice, then works: the probe is retried only
	// after probe_backoff, then after twice that, and then used every poll.
	var mu sync.Mutex
	calls := 0
	busyThenOK := func(req []byte) ([]byte, types.CompletionCode) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls <= 2 {
			return nil, types.CodeNodeBusy
		}
		return dcmiPower(99)(req)
	}
	f := startFakeBMC(t, 0x0002a2, fakeHandler{netFn: netFnDCMI, cmd: dcmiPowerReading, fn: busyThenOK})
	p := newTestIPMI(t, sdktest.Logger(t), "1s")
	now := time.Unix(1_000_000, 0)
	p.now = func() time.Time { return now }
	req := pollster.Request{Meters: []string{meterNodePower}, Resources: []sample.Resource{{ID: f.url, Endpoint: f.url}}}
	poll := func() []sample.Sample {
		t.Helper()
		out, err := p.Poll(context.Background(), req)
		require.NoError(t, err)
		return out
	}
	steps := []struct {
		advance   time.Duration
		wantCalls int
		wantPower bool
	}{
		{0, 1, false},                // probe: busy; retry after 1m
		{30 * time.Second, 1, false}, // not due
		{30 * time.Second, 2, false}, // due: busy again; retry after 2m
		{time.Minute, 2, false},      // not due
		{time.Minute, 3, true},       // due: works
		{time.Second, 4, true},       // supported: asked every poll
	}
	for i, st := range steps {
		now = now.Add(st.advance)
		out := poll()
		require.Equal(t, st.wantCalls, f.count(netFnDCMI, dcmiPowerReading), "step %d", i)
		require.Equal(t, st.wantPower, len(out) == 1, "step %d: %v", i, out)
		if st.wantPower {
			require.Equal(t, 99.0, out[0].Volume)
		}
	}

	// A BMC no longer handed over is forgotten (its session closed) after an hour.
	now = now.Add(2 * time.Hour)
	_, err := p.Poll(context.Background(), pollster.Request{Meters: req.Meters})
	require.NoError(t, err)
	require.Empty(t, p.bmcs)
}

package alarm

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

func TestServiceCountsRejections(t *testing.T) {
	t.Parallel()
	svc := NewService(NewMemNode(), Checker{}, DefaultHistoryLimits)
	reg := prometheus.NewRegistry()
	svc.Register(reg)
	who := Caller{Project: "p1", User: "u"}
	body := func(s string) *Body {
		b, err := DecodeBody([]byte(s))
		require.NoError(t, err)
		return b
	}
	rule := `"threshold_rule":{"meter_name":"m","threshold":1,"comparison_operator":"gt"}`
	a, err := svc.Create(t.Context(), who, body(`{"name":"x","type":"threshold",`+rule+`}`))
	require.NoError(t, err)
	_, err = svc.Create(t.Context(), who, body(`{"name":"x","type":"threshold",`+rule+`}`))
	require.ErrorIs(t, err, ErrConflict)
	_, err = svc.Create(t.Context(), who, body(`{"name":"y","type":"threshold",`+rule+`,"severity":"huge"}`))
	var fe *FieldError
	require.ErrorAs(t, err, &fe)
	require.Equal(t, "severity", fe.Field)
	_, err = svc.SetState(t.Context(), Caller{Project: "p2"}, a.ID, StateOK)
	require.ErrorIs(t, err, ErrUnknownAlarm, "another project's alarm does not exist for it")
	require.InDelta(t, 1, testutil.ToFloat64(svc.rejected.WithLabelValues("create", "conflict")), 0)
	require.InDelta(t, 1, testutil.ToFloat64(svc.rejected.WithLabelValues("create", "invalid")), 0)
	require.InDelta(t, 1, testutil.ToFloat64(svc.rejected.WithLabelValues("state", "not_found")), 0)
}

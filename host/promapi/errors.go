package promapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/prometheus/promql"
)

// Prometheus error types (the errorType of the error envelope).
const (
	errTypeBadData      = "bad_data"
	errTypeExecution    = "execution"
	errTypeTimeout      = "timeout"
	errTypeCanceled     = "canceled"
	errTypeInternal     = "internal"
	errTypeUnauthorized = "unauthorized"
	errTypeForbidden    = "forbidden"
)

var (
	errBadData  = errors.New("bad data")
	errInternal = errors.New("internal error")
	// ErrUnauthorized is for an unknown or missing token (401).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden is for a token that may not use the API (403).
	ErrForbidden = errors.New("forbidden")
)

func badData(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errBadData, fmt.Sprintf(format, args...))
}

// classify maps an error to its Prometheus error type and status code, as
// Prometheus's API does.
func classify(err error) (string, int) {
	var (
		timeout  promql.ErrQueryTimeout
		canceled promql.ErrQueryCanceled
		tooMany  promql.ErrTooManySamples
		stor     promql.ErrStorage
		maxBytes *http.MaxBytesError
	)
	switch {
	case errors.Is(err, ErrUnauthorized):
		return errTypeUnauthorized, http.StatusUnauthorized
	case errors.Is(err, ErrForbidden):
		return errTypeForbidden, http.StatusForbidden
	case errors.Is(err, errBadData):
		if errors.As(err, &maxBytes) {
			return errTypeBadData, http.StatusRequestEntityTooLarge
		}
		return errTypeBadData, http.StatusBadRequest
	case errors.As(err, &timeout), errors.Is(err, context.DeadlineExceeded):
		return errTypeTimeout, http.StatusServiceUnavailable
	case errors.As(err, &canceled), errors.Is(err, context.Canceled):
		return errTypeCanceled, http.StatusServiceUnavailable
	case errors.As(err, &tooMany), errors.Is(err, ErrTooManySeries), errors.Is(err, ErrTooManySamples):
		return errTypeExecution, http.StatusUnprocessableEntity
	case errors.Is(err, errInternal), errors.As(err, &stor):
		return errTypeInternal, http.StatusInternalServerError
	}
	return errTypeExecution, http.StatusUnprocessableEntity
}

// Fail renders err in Prometheus's error envelope; it is the only place an
// error of this API becomes a response (the agent's authentication of
// /api/v1 uses it too).
func (a *API) Fail(c *gin.Context, err error) { a.fail(c, "auth", err) }

func (a *API) fail(c *gin.Context, endpoint string, err error) {
	typ, code := classify(err)
	a.queries.WithLabelValues(endpoint, typ).Inc()
	if code >= 500 && typ == errTypeInternal {
		a.log.Error("query failed", "endpoint", endpoint, "error", err)
	}
	_ = c.Error(err)
	if code == http.StatusUnauthorized {
		c.Header("WWW-Authenticate", `Bearer realm="altimeter"`)
	}
	c.Abort()
	writeJSON(c, code, func(b []byte) []byte {
		b = append(b, `{"status":"error","errorType":`...)
		b = appendString(b, typ)
		b = append(b, `,"error":`...)
		b = appendString(b, err.Error())
		return append(b, '}')
	}, nil, nil)
}

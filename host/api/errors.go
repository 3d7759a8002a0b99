package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/altimeter/altimeter/host/auth"
	"github.com/altimeter/altimeter/host/store"
)

// Sentinel errors handlers return; abort maps them to status codes, together
// with store.ErrNotFound (404), store.ErrInvalid (400) and
// auth.ErrUnauthorized (401).
var (
	ErrNotFound   = errors.New("not found")
	ErrBadRequest = errors.New("bad request")
	// ErrForbidden means the token may not act on what the request names
	// (a member naming another project).
	ErrForbidden = errors.New("forbidden")
	// ErrConflict means the request collides with stored state (a posted
	// message_id that is already stored).
	ErrConflict = errors.New("conflict")
	// ErrTooLarge means the request body exceeds the limit.
	ErrTooLarge = errors.New("request body too large")
	// ErrPartTooLarge means one part of a request exceeds its limit (a
	// posted sample's resource_metadata); the API answers 413 too.
	ErrPartTooLarge = errors.New("too large")
	// ErrMethodNotAllowed means the path exists but not with this method.
	ErrMethodNotAllowed = errors.New("method not allowed")
)

// errorBody is Ceilometer's error envelope, so its clients read our errors:
// {"error_message": {"faultcode": "Client", "faultstring": "..."}}.
type errorBody struct {
	ErrorMessage struct {
		FaultCode   string `json:"faultcode"`
		FaultString string `json:"faultstring"`
	} `json:"error_message"`
}

// statusOf maps an error to its status code.
func statusOf(err error) int {
	var tooBig *http.MaxBytesError
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrBadRequest), errors.Is(err, store.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, auth.ErrUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, ErrConflict):
		return http.StatusConflict
	case errors.Is(err, ErrTooLarge), errors.Is(err, ErrPartTooLarge), errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrMethodNotAllowed):
		return http.StatusMethodNotAllowed
	case errors.Is(err, ErrUnavailable), errors.Is(err, store.ErrUnavailable), errors.Is(err, auth.ErrNotReady), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable
	case errors.Is(err, context.Canceled):
		// The client went away: nobody reads the answer, and it is no
		// failure of ours to log (nginx's "client closed request").
		return statusClientClosed
	}
	return http.StatusInternalServerError
}

// statusClientClosed answers a request whose client went away before its
// answer was ready.
const statusClientClosed = 499

// retryAfter is the Retry-After of a 503 (store.ErrUnavailable: a full
// disk), in seconds.
const retryAfter = "10"

// abort renders err as the one error envelope: the only place an error
// becomes a response.
func abort(c *gin.Context, err error) {
	code := statusOf(err)
	var body errorBody
	body.ErrorMessage.FaultCode = "Server"
	if code < 500 {
		body.ErrorMessage.FaultCode = "Client"
	}
	body.ErrorMessage.FaultString = err.Error()
	_ = c.Error(err) // for the access log
	if code == http.StatusUnauthorized {
		c.Header("WWW-Authenticate", `X-Auth-Token realm="altimeter"`)
	}
	if code == http.StatusServiceUnavailable {
		c.Header("Retry-After", retryAfter)
	}
	c.AbortWithStatusJSON(code, body)
}

package api

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
)

// Sentinel errors handlers return; abort maps them to status codes.
var (
	ErrNotFound   = errors.New("not found")
	ErrBadRequest = errors.New("bad request")
)

// errorBody is Ceilometer's error envelope, so its clients read our errors:
// {"error_message": {"faultcode": "Client", "faultstring": "..."}}.
type errorBody struct {
	ErrorMessage struct {
		FaultCode   string `json:"faultcode"`
		FaultString string `json:"faultstring"`
	} `json:"error_message"`
}

// abort renders err as the one error envelope: the only place an error
// becomes a response.
func abort(c *gin.Context, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, ErrBadRequest):
		code = http.StatusBadRequest
	}
	var body errorBody
	body.ErrorMessage.FaultCode = "Server"
	if code < 500 {
		body.ErrorMessage.FaultCode = "Client"
	}
	body.ErrorMessage.FaultString = err.Error()
	c.AbortWithStatusJSON(code, body)
}

package api

import (
	_ "embed" // the OpenAPI document
	"net/http"

	"github.com/gin-gonic/gin"
)

// OpenAPI is the OpenAPI 3 description of every endpoint, served at
// GET /v2/openapi.json. A test checks live responses against it.
//
//go:embed openapi.json
var OpenAPI []byte

func serveOpenAPI(c *gin.Context) {
	c.Data(http.StatusOK, "application/json", OpenAPI)
}

package server

import (
	_ "embed"

	"github.com/valyala/fasthttp"
)

// openAPI is the admin API's OpenAPI 3.1 document; a test keeps it equal
// to the dispatcher's route table.
//
//go:embed openapi.json
var openAPI []byte

func (s *Server) apiOpenAPI(ctx *fasthttp.RequestCtx) error {
	ctx.Response.Header.SetContentType("application/json")
	ctx.SetBody(openAPI)
	return nil
}

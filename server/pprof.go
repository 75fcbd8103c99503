package server

import (
	"net/http"
	"net/http/pprof"
	"strings"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
)

// pprofHandler serves Go's profiles on the admin listener (behind the
// token): /debug/pprof/profile?seconds=N (CPU), heap, allocs, goroutine,
// block, mutex, threadcreate, trace, and the index at /debug/pprof/index.
var pprofHandler = fasthttpadaptor.NewFastHTTPHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/debug/pprof/")
	switch name {
	case "index":
		r.URL.Path = "/debug/pprof/"
		pprof.Index(w, r)
	case "profile":
		pprof.Profile(w, r)
	case "trace":
		pprof.Trace(w, r)
	case "cmdline", "symbol":
		http.Error(w, "not served", http.StatusNotFound)
	default:
		pprof.Handler(name).ServeHTTP(w, r)
	}
}))

func (s *Server) apiPprof(ctx *fasthttp.RequestCtx) error {
	pprofHandler(ctx)
	return nil
}

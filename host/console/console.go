package console

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed static
var static embed.FS

// Handler serves the console: / is the single page, /ui/<file> its assets.
// Responses carry a strict Content-Security-Policy: scripts, styles and
// connections only from the agent itself.
func Handler() http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic("console: embedded files missing: " + err.Error()) // programmer error
	}
	files := http.FileServer(http.FS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		switch {
		case r.URL.Path == "/":
			h.Set("Cache-Control", "no-cache")
			http.ServeFileFS(w, r, sub, "index.html")
		case strings.HasPrefix(r.URL.Path, "/ui/"):
			p := path.Clean(strings.TrimPrefix(r.URL.Path, "/ui"))
			if p == "/" || strings.HasSuffix(r.URL.Path, "/") {
				http.NotFound(w, r) // no directory listings
				return
			}
			r2 := r.Clone(r.Context())
			r2.URL.Path = p
			h.Set("Cache-Control", "no-cache")
			files.ServeHTTP(w, r2)
		default:
			http.NotFound(w, r)
		}
	})
}

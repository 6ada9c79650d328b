package dashboard

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/hookrail/webhook"
)

//go:embed static
var staticFS embed.FS

// Options configures a dashboard. The zero value is ready to use.
type Options struct {
	// Title heads the page and names its tab. "": "Webhooks".
	Title string

	// PageSize is the number of deliveries the page lists at a time.
	// 0: DefaultPageSize; at most webhook.MaxLogLimit.
	PageSize int

	// ReadOnly leaves the buttons out of the page and refuses every POST
	// with 403: the dashboard then only shows.
	ReadOnly bool

	// TrustedOrigins are origins ("https://admin.example.com") whose
	// pages may POST besides the dashboard's own. The dashboard compares
	// a request's Origin with its Host: list the public origin here when
	// a proxy in front of the host rewrites Host. New panics on an origin
	// that is not scheme://host[:port].
	TrustedOrigins []string

	// Logger receives the operators' actions (at Info level, with the
	// delivery or endpoint) and the errors the dashboard answers with 500.
	// Nil: slog.Default().
	Logger *slog.Logger
}

// DefaultPageSize is the number of deliveries a page lists when
// Options.PageSize is 0.
const DefaultPageSize = 50

// CSRFHeader is the header a POST carries the page's CSRF token in.
const CSRFHeader = "X-CSRF-Token"

// contentSecurityPolicy lets the page load its own script, style and
// icon, and fetch its own API: no inline script or style, no frame.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// handler is the dashboard of one Emitter.
type handler struct {
	e        *webhook.Emitter
	opts     Options
	log      *slog.Logger
	token    string // the CSRF token, embedded in page
	origins  *http.CrossOriginProtection
	page     []byte // index.html, rendered once
	static   map[string]asset
	pageSize int
}

// asset is an embedded file with its content type and ETag.
type asset struct {
	body  []byte
	ctype string
	etag  string
}

// New returns the dashboard of e: the page at the handler's root, its
// files under static/ and its JSON API under api/ (see the package doc).
// Mount it behind the host's authentication, with http.StripPrefix when
// it is under a prefix. Each handler has a CSRF token of its own, random,
// made here: a page served by one handler works with it only (and with
// it until the process ends). New panics on an Options.TrustedOrigins
// entry that is not an origin, or if the system's random source fails.
func New(e *webhook.Emitter, opts Options) http.Handler {
	if e == nil {
		panic("dashboard: New: nil Emitter")
	}
	h := &handler{e: e, opts: opts, log: opts.Logger, origins: http.NewCrossOriginProtection()}
	if h.log == nil {
		h.log = slog.Default()
	}
	for _, o := range opts.TrustedOrigins {
		if err := h.origins.AddTrustedOrigin(o); err != nil {
			panic(fmt.Sprintf("dashboard: New: Options.TrustedOrigins: %v", err))
		}
	}
	h.pageSize = opts.PageSize
	if h.pageSize <= 0 {
		h.pageSize = DefaultPageSize
	}
	h.pageSize = min(h.pageSize, webhook.MaxLogLimit)
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil { // never fails on Go 1.24+: it crashes instead
		panic(fmt.Sprintf("dashboard: New: random token: %v", err))
	}
	h.token = base64.RawURLEncoding.EncodeToString(b[:])
	h.static = map[string]asset{}
	for name, ctype := range map[string]string{
		"app.js":      "text/javascript; charset=utf-8",
		"app.css":     "text/css; charset=utf-8",
		"favicon.svg": "image/svg+xml",
	} {
		body, err := staticFS.ReadFile("static/" + name)
		if err != nil {
			panic("dashboard: embedded file missing: " + name)
		}
		sum := sha256.Sum256(body)
		h.static["/static/"+name] = asset{body: body, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	}
	h.page = h.renderPage()
	return h
}

var pageTemplate = template.Must(template.ParseFS(staticFS, "static/index.html"))

// renderPage renders index.html with the handler's settings.
func (h *handler) renderPage() []byte {
	title := h.opts.Title
	if title == "" {
		title = "Webhooks"
	}
	var buf bytes.Buffer
	err := pageTemplate.Execute(&buf, map[string]any{
		"Title":    title,
		"Token":    h.token,
		"PageSize": strconv.Itoa(h.pageSize),
		"ReadOnly": h.opts.ReadOnly,
	})
	if err != nil {
		panic("dashboard: rendering the page: " + err.Error())
	}
	return buf.Bytes()
}

// ServeHTTP routes the request: the page, its files, the API.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", contentSecurityPolicy)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")

	p := r.URL.Path
	if strings.HasPrefix(p, "/api/") {
		h.serveAPI(w, r, strings.TrimPrefix(p, "/api"))
		return
	}
	switch p {
	case "", "/":
		if p == "" && !h.atDirectory(r) {
			// Mounted with StripPrefix("/admin/webhooks") and asked for
			// /admin/webhooks: the page's relative links need the slash.
			u, _ := url.ParseRequestURI(r.RequestURI)
			target := u.EscapedPath() + "/"
			if u.RawQuery != "" {
				target += "?" + u.RawQuery
			}
			http.Redirect(w, r, target, http.StatusMovedPermanently)
			return
		}
		if !allowGet(w, r) {
			return
		}
		hd.Set("Content-Type", "text/html; charset=utf-8")
		hd.Set("Cache-Control", "no-store") // it holds the CSRF token
		w.Write(h.page)
		return
	}
	if a, ok := h.static[p]; ok {
		if !allowGet(w, r) {
			return
		}
		hd.Set("Content-Type", a.ctype)
		hd.Set("Cache-Control", "no-cache")
		hd.Set("ETag", a.etag)
		if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, a.etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Write(a.body)
		return
	}
	http.NotFound(w, r)
}

// atDirectory reports whether the request, whose path the mount stripped
// to "", was for a path ending in a slash (or cannot tell: a handler
// called directly).
func (h *handler) atDirectory(r *http.Request) bool {
	if r.RequestURI == "" || r.RequestURI == "*" {
		return true
	}
	u, err := url.ParseRequestURI(r.RequestURI)
	return err != nil || strings.HasSuffix(u.Path, "/")
}

// allowGet answers 405 to methods other than GET and HEAD.
func allowGet(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}

// checkPost says why a POST is refused, "" when it may go on: it must
// come from the page's origin and carry the CSRF token.
func (h *handler) checkPost(r *http.Request) string {
	if h.opts.ReadOnly {
		return "the dashboard is read-only"
	}
	if r.Header.Get("Sec-Fetch-Site") == "" && r.Header.Get("Origin") == "" {
		return "cross-origin check: the request has neither a Sec-Fetch-Site nor an Origin header"
	}
	if err := h.origins.Check(r); err != nil {
		return "cross-origin request refused"
	}
	got := r.Header.Get(CSRFHeader)
	if got == "" {
		return "missing CSRF token (" + CSRFHeader + " header)"
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(h.token)) != 1 {
		return "invalid CSRF token: reload the page"
	}
	return ""
}

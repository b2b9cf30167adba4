// Package statuspage serves the broker's read-only status page on its HTTP
// port: every pool with its counts and policy, each key (masked) a page at
// a time, recent transitions from the audit trail, the worker, and
// anything degraded. It is server-rendered html/template with no script,
// refreshes itself, and never shows a secret: keys appear masked, by key id.
package statuspage

import (
	"context"
	"embed"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/keybroker/keybroker/internal/auth"
	"github.com/keybroker/keybroker/internal/config"
	"github.com/keybroker/keybroker/internal/store"
	"github.com/keybroker/keybroker/server"
)

// Source is the key store as the page reads it. *store.Store is one. Every
// read is bounded: counts are ZCARDs, keys a page at a time, the audit
// trail its newest entries, so a pool of 100,000 keys costs what a pool of
// ten does.
type Source interface {
	Ping(ctx context.Context) error
	Pools(ctx context.Context) ([]string, error)
	Counts(ctx context.Context, pool string) (store.Counts, error)
	List(ctx context.Context, pool string, q store.Query) (store.Page, error)
	Recent(ctx context.Context, pool string, limit int) ([]store.AuditEntry, error)
}

// Policies gives a pool's effective policy. *config.Live is one.
type Policies interface {
	Pool(name string) config.Pool
}

// Notice is one thing an operator should know at a glance: the store is
// unreachable, a pool holds its removals. Pool is empty for the whole
// broker.
type Notice struct {
	Pool string
	Text string
}

// Page is the status page handler.
type Page struct {
	src      Source
	policies Policies
	status   server.StatusSource
	auth     func() *auth.Policy
	notices  func(ctx context.Context) []Notice
	budgets  func(ctx context.Context, pool string, ids []string) map[string]string
	refresh  time.Duration
	pageSize int
	recentN  int
	now      func() time.Time
	log      *slog.Logger
	tmpl     *template.Template
}

// Option configures a Page.
type Option func(*Page)

// WithAuth requires an admin token from pol when it is enabled (see
// authorize). Without it, or with auth off, the page is as open as
// /metrics.
func WithAuth(pol *auth.Policy) Option {
	return func(p *Page) { p.auth = func() *auth.Policy { return pol } }
}

// WithAuthSource is WithAuth for a policy that changes while the broker
// runs (a reloaded --auth-file): each request is checked against the
// policy in force.
func WithAuthSource(current func() *auth.Policy) Option {
	return func(p *Page) { p.auth = current }
}

// WithNotices adds notices from elsewhere in the broker (a pool holding
// its removals) to the store's own.
func WithNotices(f func(ctx context.Context) []Notice) Option {
	return func(p *Page) { p.notices = f }
}

// WithBudgets shows each key's rate-limit budget in its window, as f
// describes it by key id ("12 of 100 requests left until 10:04:00"); keys
// f omits show a dash.
func WithBudgets(f func(ctx context.Context, pool string, ids []string) map[string]string) Option {
	return func(p *Page) { p.budgets = f }
}

// WithRefresh sets how often the browser reloads the page (default 10s).
func WithRefresh(d time.Duration) Option { return func(p *Page) { p.refresh = d } }

// WithPageSize sets how many keys one pool page shows (default 100).
func WithPageSize(n int) Option { return func(p *Page) { p.pageSize = n } }

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option { return func(p *Page) { p.now = now } }

// WithLogger sets where read failures are logged; the default discards.
func WithLogger(l *slog.Logger) Option { return func(p *Page) { p.log = l } }

//go:embed templates/*.html
var templates embed.FS

// New returns the status page over src. Mount it at /status and /status/.
func New(src Source, policies Policies, status server.StatusSource, opts ...Option) *Page {
	p := &Page{
		src: src, policies: policies, status: status,
		refresh: 10 * time.Second, pageSize: 100, recentN: 20,
		now: time.Now, log: slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		o(p)
	}
	p.tmpl = template.Must(template.New("").Funcs(funcs(p.now)).ParseFS(templates, "templates/*.html"))
	return p
}

// Handler routes /status (every pool) and /status/pools/{pool} (one pool's
// keys, a page at a time) behind authorization.
func (p *Page) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", p.overview)
	mux.HandleFunc("GET /status/pools/{pool}", p.pool)
	return p.authorize(secureHeaders(mux))
}

// secureHeaders keeps the page out of caches, frames and other sites'
// referrers, and allows no script at all.
func secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

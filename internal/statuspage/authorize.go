package statuspage

import (
	"context"
	"net/http"
	"strings"

	"github.com/keybroker/keybroker/internal/auth"
)

// authorize admits admins only when auth is on. The admin token comes as
// "Authorization: Bearer TOKEN" (curl, scripts) or as the password of
// HTTP Basic auth (a browser's own prompt; the user name is ignored), never
// in the URL, where it would land in access logs, browser history and
// Referer headers. A token limited to some pools sees only those.
func (p *Page) authorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var pol *auth.Policy
		if p.auth != nil {
			pol = p.auth()
		}
		if pol == nil || !pol.Enabled() {
			next.ServeHTTP(w, r)
			return
		}
		token := bearer(r)
		pr, ok := pol.ByToken(token)
		switch {
		case token == "" || !ok:
			w.Header().Set("WWW-Authenticate", `Basic realm="keybroker status (admin token as password)", charset="UTF-8"`)
			http.Error(w, "admin token required: give it as the password, or as Authorization: Bearer", http.StatusUnauthorized)
			return
		case !pr.Can(auth.RoleAdmin):
			http.Error(w, "the status page is for admin tokens", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r.WithContext(auth.NewContext(r.Context(), pr)))
	})
}

// bearer returns the token of a Bearer or Basic Authorization header.
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if tok, ok := strings.CutPrefix(h, "Bearer "); ok {
		return strings.TrimSpace(tok)
	}
	if _, pass, ok := r.BasicAuth(); ok {
		return pass
	}
	return ""
}

// allowed reports whether the caller of ctx may see pool.
func allowed(ctx context.Context, pool string) bool {
	pr, ok := auth.FromContext(ctx)
	return !ok || pr.Allows(pool)
}

package statuspage

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	pb "github.com/keybroker/keybroker/gen/keybroker/v1"
	"github.com/keybroker/keybroker/internal/secret"
	"github.com/keybroker/keybroker/internal/store"
)

// header is what every page shows at the top.
type header struct {
	Title    string
	Now      time.Time
	Refresh  int
	Version  string
	Started  time.Time
	Worker   *pb.WorkerStatus
	Notices  []Notice
	StoreUp  bool
	PageSize int
}

// poolRow is a pool with its counts and the policy that matters at a
// glance.
type poolRow struct {
	Name      string
	Counts    store.Counts
	Provider  string
	Selection string
	Validator string // "" when nothing checks the pool
	Interval  string
}

// keyRow is one key as the page shows it: masked, never the secret.
type keyRow struct {
	ID, Masked, State, Reason string
	Until, LastUsed           time.Time
	Leases, Failures          int64
	Balance                   string
	Budget                    string
}

// event is one audit entry with its pool.
type event struct {
	Pool string
	store.AuditEntry
}

type overviewData struct {
	header
	Pools  []poolRow
	Recent []event
}

type poolData struct {
	header
	Pool   poolRow
	Keys   []keyRow
	State  string
	States []store.State
	Next   string // key id to continue after; "" on the last page
	Recent []event
}

func (p *Page) header(ctx context.Context, title string) header {
	h := header{Title: title, Now: p.now(), Refresh: int(p.refresh / time.Second), Version: p.status.Version,
		Started: p.status.Started, PageSize: p.pageSize}
	if p.status.Worker != nil {
		h.Worker = p.status.Worker()
	}
	if err := p.src.Ping(ctx); err != nil {
		p.log.Warn("status page: key store unreachable", "err", err)
		h.Notices = append(h.Notices, Notice{Text: "Key store (Redis) unreachable: leases and changes fail until it answers; counts below may be missing."})
	} else {
		h.StoreUp = true
	}
	if p.notices != nil {
		h.Notices = append(h.Notices, p.notices(ctx)...)
	}
	return h
}

func (p *Page) poolRow(ctx context.Context, name string) (poolRow, error) {
	c, err := p.src.Counts(ctx, name)
	if err != nil {
		return poolRow{}, err
	}
	pol := p.policies.Pool(name)
	row := poolRow{Name: name, Counts: c, Provider: string(pol.Provider), Selection: string(pol.Selection)}
	if pol.Validator.Kind != "" && pol.Validator.Kind != "none" {
		row.Validator, row.Interval = pol.Validator.Kind, pol.Validator.Interval.String()
	}
	return row, nil
}

func (p *Page) overview(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	d := overviewData{header: p.header(ctx, "keybroker status")}
	if d.StoreUp {
		names, err := p.src.Pools(ctx)
		if err != nil {
			p.fail(w, "list pools", err)
			return
		}
		for _, name := range names {
			if !allowed(ctx, name) {
				continue
			}
			row, err := p.poolRow(ctx, name)
			if err != nil {
				p.fail(w, "count pool "+name, err)
				return
			}
			d.Pools = append(d.Pools, row)
			recent, err := p.recent(ctx, name)
			if err != nil {
				p.fail(w, "audit trail of "+name, err)
				return
			}
			d.Recent = append(d.Recent, recent...)
		}
		slices.SortFunc(d.Recent, func(a, b event) int { return b.Time.Compare(a.Time) })
		d.Recent = d.Recent[:min(len(d.Recent), p.recentN)]
	}
	p.render(w, "overview.html", d)
}

func (p *Page) recent(ctx context.Context, pool string) ([]event, error) {
	entries, err := p.src.Recent(ctx, pool, p.recentN)
	if err != nil {
		return nil, err
	}
	out := make([]event, len(entries))
	for i, e := range entries {
		out[i] = event{Pool: pool, AuditEntry: e}
	}
	return out, nil
}

func (p *Page) pool(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name := r.PathValue("pool")
	q := store.Query{State: store.State(r.URL.Query().Get("state")), After: r.URL.Query().Get("after"), Limit: p.pageSize}
	switch {
	case !allowed(ctx, name):
		http.Error(w, "not your pool", http.StatusForbidden)
		return
	case q.State != "" && !q.State.Valid():
		http.Error(w, "unknown state", http.StatusBadRequest)
		return
	case q.After != "" && !secret.ValidID(q.After):
		http.Error(w, "after is not a key id", http.StatusBadRequest)
		return
	}
	d := poolData{header: p.header(ctx, "pool "+name), State: string(q.State), States: store.States()}
	if !d.StoreUp {
		p.render(w, "pool.html", d)
		return
	}
	var err error
	if d.Pool, err = p.poolRow(ctx, name); err != nil {
		p.fail(w, "count pool "+name, err)
		return
	}
	page, err := p.src.List(ctx, name, q)
	if err != nil {
		p.fail(w, "list pool "+name, err)
		return
	}
	for _, k := range page.Keys {
		d.Keys = append(d.Keys, keyView(k))
	}
	p.addBudgets(ctx, name, d.Keys)
	if page.More && len(page.Keys) > 0 {
		d.Next = page.Keys[len(page.Keys)-1].ID
	}
	if d.Recent, err = p.recent(ctx, name); err != nil {
		p.fail(w, "audit trail of "+name, err)
		return
	}
	p.render(w, "pool.html", d)
}

// keyView masks the secret and drops it: the row never holds it.
func keyView(k store.Key) keyRow {
	row := keyRow{ID: k.ID, Masked: secret.Mask(k.Secret), State: string(k.State), Reason: k.Reason,
		Until: k.Until, LastUsed: k.LastUsed, Leases: k.Leases, Failures: k.Failures}
	if b := k.Balance; b != nil {
		row.Balance = fmt.Sprintf("$%.2f of $%.2f", b.UsedUSD, b.LimitUSD)
	}
	return row
}

func (p *Page) fail(w http.ResponseWriter, what string, err error) {
	p.log.Warn("status page: "+what, "err", err)
	http.Error(w, "cannot read the key store: "+what, http.StatusServiceUnavailable)
}

func (p *Page) render(w http.ResponseWriter, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := p.tmpl.ExecuteTemplate(w, name, data); err != nil {
		p.log.Warn("status page: render", "page", name, "err", err)
	}
}

// addBudgets fills in the rows' budgets, when the broker tracks them.
func (p *Page) addBudgets(ctx context.Context, pool string, rows []keyRow) {
	if p.budgets == nil || len(rows) == 0 {
		return
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	budgets := p.budgets(ctx, pool, ids)
	for i := range rows {
		rows[i].Budget = budgets[rows[i].ID]
	}
}

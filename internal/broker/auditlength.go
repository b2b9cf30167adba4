package broker

import (
	"context"
	"time"

	"github.com/keybroker/keybroker/internal/config"
)

// auditSyncInterval is how often a changed policy's audit lengths are
// written to Redis.
const auditSyncInterval = 5 * time.Second

// configSource is a policy that says which pools it declares: a
// *config.Live (reloaded) or a fixed *config.Config.
type configSource interface{ Current() *config.Config }

type fixedConfig struct{ c *config.Config }

func (f fixedConfig) Current() *config.Config { return f.c }

// syncAuditLengths keeps each declared pool's audit_length in Redis, where
// the scripts that write the audit trail read it: at start and after
// every policy change, until ctx ends. Every replica writes the same
// values.
func (b *Broker) syncAuditLengths(ctx context.Context) error {
	var src configSource
	switch p := b.cfg.Policies.(type) {
	case configSource:
		src = p
	case *config.Config:
		src = fixedConfig{p}
	default:
		return nil
	}
	t := time.NewTicker(auditSyncInterval)
	defer t.Stop()
	var applied *config.Config
	for {
		if c := src.Current(); c != applied && b.applyAuditLengths(ctx, c) {
			applied = c
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// applyAuditLengths writes every declared pool's audit length and reports
// whether all were written.
func (b *Broker) applyAuditLengths(ctx context.Context, c *config.Config) bool {
	ok := true
	for _, name := range c.PoolNames() {
		if err := b.store.SetAuditLength(ctx, name, c.Pool(name).AuditEntries()); err != nil {
			b.log.Warn("cannot set the audit length of a pool; retrying", "pool", name, "err", err)
			ok = false
		}
	}
	return ok
}

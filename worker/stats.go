package worker

import "sync/atomic"

// Stats counts what a Worker did, for logs, tests and metrics. It never
// holds a key id or a secret: only numbers.
type Stats struct {
	Claimed   int64 // keys claimed for a check
	Checked   int64 // checks whose result was applied
	Valid     int64 // checks that found the key usable
	Refused   int64 // checks where the provider refused the key
	Faults    int64 // checks that learned nothing (no answer, 5xx, garbage)
	Changed   int64 // state changes made, quarantines included
	Removed   int64 // keys quarantined (confirmed invalid, or out of credit where the pool removes such keys)
	Held      int64 // confirmed-invalid keys the removal brake kept suspect
	Purged    int64 // quarantined keys deleted after the retention
	Lost      int64 // keys removed or moved by someone else while checked
	IdlePolls int64 // looks for due keys that found none
	Errors    int64 // store errors (the claim lapses; the key is retried)
}

type counters struct {
	claimed, checked, valid, refused, faults, changed, removed, held, purged, lost, idle, errors atomic.Int64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Claimed: c.claimed.Load(), Checked: c.checked.Load(), Valid: c.valid.Load(),
		Refused: c.refused.Load(), Faults: c.faults.Load(), Changed: c.changed.Load(),
		Removed: c.removed.Load(), Held: c.held.Load(), Purged: c.purged.Load(), Lost: c.lost.Load(), IdlePolls: c.idle.Load(), Errors: c.errors.Load(),
	}
}

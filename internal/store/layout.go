package store

// Redis layout. Everything of one pool shares the hash tag {pool}:
//
//	kb:{pool}:k:<id>       hash: s secret, st state, rsn reason, un until ms,
//	                       ad added ms, lu last used ms, lv last validated ms,
//	                       nl leases, nf failures, fk last failure kind,
//	                       bl/bu balance limit/used (USD), bx balance expiry ms
//	kb:{pool}:all          zset (score 0): every key id, for lexical paging
//	kb:{pool}:ix:<state>   zset (score 0): key ids in one state, for paging
//	kb:{pool}:active       set: the selectable key ids (SRANDMEMBER)
//	kb:{pool}:wake         zset: key id → ms when it returns to active
//	kb:{pool}:due          zset: key id → ms when the worker checks it next
//	                       (0: verify at once; a claim pushes it past now)
//	kb:{pool}:audit        stream, capped: one entry per state change callers
//	                       cause (reports, cooldown ends) (t ms, k id, f from,
//	                       s to, r reason, a actor, u until)
//	kb:{pool}:audit:decisions  the same for admins' and the worker's changes,
//	                       capped separately so caller churn cannot evict them
//	kb:{pool}:audit:seq    numbers audit entries across both streams
//	kb:{pool}:audit:max    the pool's audit_length, when not the default
//	kb:{pool}:events       pub/sub channel: "added|removed|changed id…"
//	kb:{pool}:rep:<id>     a failure report already applied (1h TTL)
//	kb:{pool}:qtime        zset: quarantined key id → ms it was quarantined
//	                       (the purge after the retention reads it)
//	kb:{pool}:removals     zset: "id@ms" → ms of each quarantine by the
//	                       worker, trimmed to the brake's window
//	kb:{pool}:hold         hash: since ms, reason; present while the
//	                       removal brake holds
//	kb:{pool}:held         set: suspect key ids the brake keeps from
//	                       quarantine (the hold lifts when it empties)
//	kb:{pool}:bl           hash: <id>:t a key's budget tier, <id>:l its
//	                       limits learned from headers ("reqs toks");
//	                       removed with the key
//	kb:{pool}:bw:<window>  hash: <id>:r, <id>:t requests and tokens of
//	                       the window's budget claimed by replicas or seen
//	                       spent by the provider (expires a few windows on)
//
// A key's hash may also hold w, its selection weight (absent: 1); fb, the
// ms of the worker's first bad answer while suspect; pk, the failure kind
// a caller's report disabled it for; qa, the ms it was quarantined.
//
// Outside any pool:
//
//	kb:pools               set of pool names
//	kb:broker-key          the broker key that key ids and leases derive from
const (
	poolsKey     = "kb:pools"
	brokerKeyKey = "kb:broker-key"
)

// prefix is the common start of every Redis key of a pool.
func prefix(pool string) string {
	return "kb:{" + pool + "}:"
}

// EventsChannel is the pub/sub channel on which a pool's changes appear.
func EventsChannel(pool string) string {
	return prefix(pool) + "events"
}

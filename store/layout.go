package store

// Redis layout. Everything of one pool shares the hash tag {pool}:
//
//	kb:{pool}:k:<id>       hash: s secret, st state, rsn reason, un until ms,
//	                       ad added ms, lu last used ms, lv last validated ms,
//	                       nl leases, nf failures, fk last failure kind
//	kb:{pool}:all          zset (score 0): every key id, for lexical paging
//	kb:{pool}:ix:<state>   zset (score 0): key ids in one state, for paging
//	kb:{pool}:active       set: the selectable key ids (SRANDMEMBER)
//	kb:{pool}:wake         zset: key id → ms when it returns to active
//	kb:{pool}:events       pub/sub channel: "added|removed|changed id…"
//
// A key's hash may also hold w, its selection weight (absent: 1).
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

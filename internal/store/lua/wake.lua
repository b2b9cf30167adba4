-- wake returns due keys of a pool to active; the broker runs it on a timer
-- so that states and notifications stay current even when nobody leases.
wake(1000)
return redis.call('ZCARD', WAKE)

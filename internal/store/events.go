package store

import (
	"context"
	"strings"

	"github.com/redis/go-redis/v9"
)

// EventsPattern matches the events channel of every pool, present and
// future, for PSUBSCRIBE. On Redis Cluster PUBLISH reaches every node, so
// one subscription on any node hears every pool.
const EventsPattern = "kb:*:events"

// Event kinds, as the scripts publish them.
const (
	EventAdded   = "added"
	EventRemoved = "removed"
	EventChanged = "changed"
)

// Event is one change notification: keys of a pool were added, removed,
// or changed state or weight.
type Event struct {
	Pool string
	Kind string
	IDs  []string
}

// SubscribeEvents subscribes to the changes of every pool. go-redis
// resubscribes by itself after a reconnect and reports every
// (re)subscription as a *redis.Subscription: from then on events flow
// again, but those published in between are lost, so a follower must
// resynchronise after each one.
func (s *Store) SubscribeEvents(ctx context.Context) *redis.PubSub {
	return s.rdb.PSubscribe(ctx, EventsPattern)
}

// ParseEvent reads a message of SubscribeEvents; ok is false for anything
// that is not a keybroker event.
func ParseEvent(channel, payload string) (ev Event, ok bool) {
	rest, ok := strings.CutPrefix(channel, "kb:{")
	if !ok {
		return Event{}, false
	}
	pool, ok := strings.CutSuffix(rest, "}:events")
	if !ok || pool == "" {
		return Event{}, false
	}
	fields := strings.Fields(payload)
	if len(fields) < 2 {
		return Event{}, false
	}
	switch fields[0] {
	case EventAdded, EventRemoved, EventChanged:
	default:
		return Event{}, false
	}
	return Event{Pool: pool, Kind: fields[0], IDs: fields[1:]}, true
}

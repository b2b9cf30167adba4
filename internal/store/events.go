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

// Event kinds. Added, removed and changed are published by the scripts;
// subscribed and malformed come from the subscription itself.
const (
	EventAdded   = "added"
	EventRemoved = "removed"
	EventChanged = "changed"
	// EventSubscribed says the subscription was (re)established: events
	// published while it was down are lost, so a follower resynchronises
	// everything. It comes first, and again after every reconnect.
	EventSubscribed = "subscribed"
	// EventMalformed is a message on an events channel that is not a
	// keybroker event (Channel says where); something else publishes there.
	EventMalformed = "malformed"
)

// Event is one item of the change stream: keys of a pool were added,
// removed, or changed state or weight; or the subscription itself was
// (re)established or carried something unreadable.
type Event struct {
	Pool string
	Kind string
	IDs  []string
	// Channel is the Redis channel of a malformed message, for the log.
	Channel string
}

// subscribeBuffer is how many messages the subscription holds for a slow
// reader before Redis client back-pressure starts.
const subscribeBuffer = 4096

// Subscribe follows the changes of every pool, present and future, until
// ctx ends; the channel is closed then, or earlier if the subscription
// fails for good. The Redis client resubscribes by itself after a
// reconnect, and every (re)subscription arrives as an EventSubscribed:
// events published in between are lost, so a follower must resynchronise
// after each one.
func (s *Store) Subscribe(ctx context.Context) <-chan Event {
	ps := s.rdb.PSubscribe(ctx, EventsPattern)
	msgs := ps.ChannelWithSubscriptions(redis.WithChannelSize(subscribeBuffer))
	out := make(chan Event, 64)
	go func() {
		defer close(out)
		defer ps.Close()
		for {
			var m any
			var ok bool
			select {
			case <-ctx.Done():
				return
			case m, ok = <-msgs:
				if !ok {
					return
				}
			}
			ev, keep := toEvent(m)
			if !keep {
				continue
			}
			select {
			case <-ctx.Done():
				return
			case out <- ev:
			}
		}
	}()
	return out
}

// toEvent translates one item of the Redis subscription.
func toEvent(m any) (Event, bool) {
	switch m := m.(type) {
	case *redis.Subscription:
		return Event{Kind: EventSubscribed}, true
	case *redis.Message:
		if ev, ok := ParseEvent(m.Channel, m.Payload); ok {
			return ev, true
		}
		return Event{Kind: EventMalformed, Channel: m.Channel}, true
	}
	return Event{}, false
}

// ParseEvent reads a message of an events channel; ok is false for anything
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

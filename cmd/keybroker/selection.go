package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/keybroker/keybroker/internal/broker"
)

// Selection sources: where GetRandom picks keys.
const (
	sourceMemory = broker.SelectMemory // the in-memory view, following Redis
	sourceRedis  = broker.SelectRedis  // one Redis command per call
)

// selectionFlags say where GetRandom picks keys and how the in-memory view
// follows Redis.
type selectionFlags struct {
	source      sourceFlag
	resyncEvery time.Duration
	flushEvery  time.Duration
}

func (s *selectionFlags) register(fs *flag.FlagSet) {
	s.source = sourceMemory
	fs.Var(&s.source, "selection-source", "where GetRandom picks keys: memory (an in-memory view of every pool, following Redis) or redis (one Redis command per call, SRANDMEMBER on the pool's active set)")
	fs.DurationVar(&s.resyncEvery, "view-resync-interval", 5*time.Minute, "how often the in-memory view reloads every pool from Redis (it also does after every reconnect)")
	fs.DurationVar(&s.flushEvery, "usage-flush-interval", time.Second, "how often lease counts and last-used times kept in memory are written to Redis")
}

// sourceFlag is --selection-source, checked when it is set.
type sourceFlag string

// String is the flag's value, for flag's help output.
func (s *sourceFlag) String() string { return string(*s) }

// Set accepts memory or redis, so a typo stops the broker at start.
func (s *sourceFlag) Set(v string) error {
	if v != sourceMemory && v != sourceRedis {
		return fmt.Errorf("want %s or %s", sourceMemory, sourceRedis)
	}
	*s = sourceFlag(v)
	return nil
}

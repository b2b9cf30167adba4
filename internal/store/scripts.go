package store

import (
	"embed"

	"github.com/redis/go-redis/v9"
)

//go:embed lua/*.lua
var luaFiles embed.FS

// The scripts, each prefixed with lua/lib.lua. redis.Script runs them by
// SHA and loads them on NOSCRIPT, so a restarted Redis costs one round trip.
var (
	pickScript    = script("pick")
	addScript     = script("add")
	removeScript  = script("remove")
	reportScript  = script("report")
	listScript    = script("list")
	wakeScript    = script("wake")
	secretsScript = script("secrets")
	resealScript  = script("reseal")

	claimScript    = script("claim")
	applyScript    = script("apply")
	scheduleScript = script("schedule")
)

// pickFastScript is Pick's common case; it runs without the prelude.
var pickFastScript = redis.NewScript(mustRead("pickfast"))

func script(name string) *redis.Script {
	return redis.NewScript(mustRead("lib") + "\n" + mustRead(name))
}

func mustRead(name string) string {
	b, err := luaFiles.ReadFile("lua/" + name + ".lua")
	if err != nil {
		panic("store: missing embedded script " + name) // a build defect, not a runtime condition
	}
	return string(b)
}

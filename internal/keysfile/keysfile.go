// Package keysfile reads the plain-text key lists operators seed pools
// from: one secret per line, or pool<TAB>secret. It is shared by
// `keybroker serve --keys-file` and the admin import so both read the same
// format the same way.
package keysfile

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/keybroker/keybroker/internal/config"
	"github.com/keybroker/keybroker/internal/secret"
)

// maxLine bounds one line, so a binary file fails fast instead of being
// read whole as one "secret".
const maxLine = 1 << 20

// Batch is the secrets of one pool, in file order.
type Batch struct {
	Pool    string
	Secrets []string
}

// Parse reads a key list. Blank lines and lines starting with '#' are
// skipped. A line with a tab is pool<TAB>secret; a line without one goes
// to defaultPool, which must then be set. Errors name the line, never the
// secret on it. Pools are returned in order of first appearance.
func Parse(r io.Reader, defaultPool string) ([]Batch, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), maxLine)
	var batches []Batch
	index := map[string]int{}
	for line := 1; sc.Scan(); line++ {
		pool, sec, skip, err := parseLine(sc.Text(), defaultPool)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if skip {
			continue
		}
		i, ok := index[pool]
		if !ok {
			i = len(batches)
			index[pool] = i
			batches = append(batches, Batch{Pool: pool})
		}
		batches[i].Secrets = append(batches[i].Secrets, sec)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read keys: %w (lines are limited to %d bytes)", err, maxLine)
	}
	return batches, nil
}

func parseLine(text, defaultPool string) (pool, sec string, skip bool, err error) {
	trimmed := strings.TrimSpace(text)
	if trimmed == "" || strings.HasPrefix(trimmed, "#") {
		return "", "", true, nil
	}
	pool = defaultPool
	sec = text
	if p, s, ok := strings.Cut(text, "\t"); ok {
		pool, sec = strings.TrimSpace(p), s
	}
	switch {
	case pool == "":
		return "", "", false, fmt.Errorf("no pool: write pool<TAB>secret or give a default pool (--pool)")
	case !config.ValidPoolName(pool):
		return "", "", false, fmt.Errorf("pool name is not valid (1 to 64 of [A-Za-z0-9._-], starting with a letter or digit)")
	}
	if sec, err = secret.Normalize(sec); err != nil {
		return "", "", false, fmt.Errorf("secret %w", err)
	}
	return pool, sec, false, nil
}

package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/keybroker/keybroker/client"
	"github.com/keybroker/keybroker/internal/keysfile"
)

// maxAddBatch is the most secrets one Add call takes.
const maxAddBatch = 10_000

func setupImport(fs *flag.FlagSet) runFunc {
	pool := fs.String("pool", "", "pool for lines without one (lines may say pool<TAB>secret)")
	batch := fs.Int("batch-size", 5000, fmt.Sprintf("secrets per Add call, 1 to %d", maxAddBatch))
	return func(env adminEnv, kb *client.Client, args []string) error {
		if *batch < 1 || *batch > maxAddBatch {
			return usagef("--batch-size %d: want 1 to %d", *batch, maxAddBatch)
		}
		in, name, closeIn, err := openInput(args, env.stdin)
		if err != nil {
			return err
		}
		defer closeIn()
		batches, err := keysfile.Parse(in, *pool)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		imp := importer{env: env, kb: kb, batch: *batch, total: totalSecrets(batches)}
		if isTerminal(env.stderr) {
			imp.progress = env.stderr
		}
		for _, b := range batches {
			if err := imp.pool(b); err != nil {
				return err
			}
		}
		return nil
	}
}

// openInput opens the file named by args, or stdin for none or "-".
func openInput(args []string, stdin io.Reader) (r io.Reader, name string, closeFn func(), err error) {
	switch {
	case len(args) > 1:
		return nil, "", nil, usagef("one file at a time, got %d", len(args))
	case len(args) == 0 || args[0] == "-":
		return stdin, "stdin", func() {}, nil
	}
	f, err := os.Open(args[0])
	if err != nil {
		return nil, "", nil, err
	}
	return f, args[0], func() { f.Close() }, nil
}

func totalSecrets(batches []keysfile.Batch) int {
	n := 0
	for _, b := range batches {
		n += len(b.Secrets)
	}
	return n
}

// importer adds parsed keys pool by pool in Add-sized batches, showing
// progress on a terminal.
type importer struct {
	env      adminEnv
	kb       *client.Client
	batch    int
	total    int
	done     int
	progress io.Writer // nil: no progress line
}

// pool imports one pool's secrets and prints its summary.
func (im *importer) pool(b keysfile.Batch) error {
	var added, present int32
	for start := 0; start < len(b.Secrets); start += im.batch {
		chunk := b.Secrets[start:min(start+im.batch, len(b.Secrets))]
		resp, err := im.kb.Add(im.env.ctx, b.Pool, chunk)
		if err != nil {
			im.endProgress()
			return fmt.Errorf("import into pool %q after %d of %d keys: %w", b.Pool, im.done, im.total, err)
		}
		added, present = added+resp.GetAddedCount(), present+resp.GetPresentCount()
		im.done += len(chunk)
		if im.progress != nil {
			fmt.Fprintf(im.progress, "\rimporting: %d/%d keys", im.done, im.total)
		}
	}
	im.endProgress()
	fmt.Fprintf(im.env.stdout, "pool %s: %d keys, %d added, %d already present\n", b.Pool, len(b.Secrets), added, present)
	return nil
}

func (im *importer) endProgress() {
	if im.progress != nil {
		fmt.Fprint(im.progress, "\r\033[K")
	}
}

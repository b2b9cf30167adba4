package main

import (
	"fmt"
	"io"

	"github.com/keybroker/keybroker/internal/config"
)

// configCmd runs `keybroker config check FILE…`: validate pool policy
// files without starting anything, for CI and before a reload.
func configCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) < 2 || args[0] != "check" {
		fmt.Fprintln(stderr, "usage: keybroker config check FILE...")
		return 2
	}
	code := 0
	for _, path := range args[1:] {
		c, err := config.Load(path)
		if err != nil {
			fmt.Fprintln(stderr, err)
			code = 1
			continue
		}
		if len(c.PoolNames()) == 0 {
			fmt.Fprintf(stdout, "%s: ok (0 pools declared; warning: a running broker whose policy declares pools refuses this on reload until SIGHUP or --config-allow-empty)\n", path)
			continue
		}
		fmt.Fprintf(stdout, "%s: ok (%d pools declared)\n", path, len(c.PoolNames()))
	}
	return code
}

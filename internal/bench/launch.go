package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

// running is a child process doing a job.
type running struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  *bufio.Scanner
	stderr *bytes.Buffer
	before sample // at the start marker
	pid    int    // redis-server's, for its CPU time
	open   bool   // the child runs until its input closes
}

// launch starts a child of this binary on j.
func launch(ctx context.Context, exe string, j job) (*running, error) {
	spec, err := json.Marshal(j)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, exe, "bench")
	cmd.Env = append(os.Environ(), ChildEnv+"="+string(spec))
	r := &running{cmd: cmd, stderr: &bytes.Buffer{}}
	cmd.Stderr = r.stderr
	if r.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	r.lines = bufio.NewScanner(out)
	r.lines.Buffer(nil, 16<<20)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start bench child: %w", err)
	}
	return r, nil
}

// expect reads the child's next line, which must be want.
func (r *running) expect(want string) error {
	if !r.lines.Scan() {
		return r.failed(fmt.Sprintf("ended before %q", want))
	}
	if got := r.lines.Text(); got != want {
		return r.failed(fmt.Sprintf("said %q, want %q", got, want))
	}
	return nil
}

// result reads the child's JSON result into v and waits for it to exit.
func (r *running) result(v any) error {
	if !r.lines.Scan() {
		return r.failed("ended without a result")
	}
	if err := json.Unmarshal(r.lines.Bytes(), v); err != nil {
		return r.failed("sent a malformed result: " + err.Error())
	}
	_ = r.stdin.Close()
	if err := r.cmd.Wait(); err != nil {
		return r.failed(err.Error())
	}
	return nil
}

// failed kills the child and describes what went wrong with its stderr.
func (r *running) failed(what string) error {
	_ = r.stdin.Close()
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	return fmt.Errorf("bench child %s: %s", what, strings.TrimSpace(r.stderr.String()))
}

// startLoad launches a load child and returns once its measured window
// has begun, with the server side's counters sampled at that instant.
func startLoad(ctx context.Context, exe string, j job, redisPid int) (*running, error) {
	j.Kind = "load"
	r, err := launch(ctx, exe, j)
	if err != nil {
		return nil, err
	}
	r.pid, r.open = redisPid, j.Duration == 0
	if err := r.expect(markStart); err != nil {
		return nil, err
	}
	r.before = takeSample(redisPid)
	return r, nil
}

// finish ends the window (closing the child's input if it runs until
// then), samples the counters again and returns what the child measured
// with the server side's cost in the window.
func (r *running) finish() (loadResult, cost, error) {
	if r.open {
		_ = r.stdin.Close()
	}
	if err := r.expect(markStop); err != nil {
		return loadResult{}, cost{}, err
	}
	c := takeSample(r.pid).since(r.before)
	var res loadResult
	if err := r.result(&res); err != nil {
		return loadResult{}, cost{}, err
	}
	if res.Errors > 0 {
		return res, c, fmt.Errorf("%d of %d calls failed, first: %s", res.Errors, res.Errors+res.Calls, res.FirstErr)
	}
	return res, c, nil
}

// runLoad runs a load child for its duration.
func runLoad(ctx context.Context, exe string, j job, redisPid int) (loadResult, cost, error) {
	r, err := startLoad(ctx, exe, j, redisPid)
	if err != nil {
		return loadResult{}, cost{}, err
	}
	return r.finish()
}

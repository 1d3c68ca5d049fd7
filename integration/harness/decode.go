package harness

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// DecodeCheck decodes seconds of media from url with ffmpeg, stopping at the
// first decode or demux error (-xerror), and fails if fewer than seconds-1
// seconds came out (a stream that ends early is not a pass). The error
// carries ffmpeg's stderr.
func DecodeCheck(ctx context.Context, url string, seconds int) error {
	args := []string{"-hide_banner", "-nostdin", "-xerror", "-v", "error",
		"-rw_timeout", "10000000", // µs: a stalled origin fails instead of hanging
		"-i", url, "-t", strconv.Itoa(seconds),
		"-progress", "pipe:1", "-nostats", "-f", "null", "-"}
	cmd := exec.CommandContext(ctx, "ffmpeg", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if err != nil {
		return fmt.Errorf("decode %s: %w\nffmpeg stderr:\n%s", url, err, tail(stderr.String(), 4000))
	}
	if s := strings.TrimSpace(stderr.String()); s != "" {
		return fmt.Errorf("decode %s: ffmpeg reported errors:\n%s", url, tail(s, 4000))
	}
	// -progress prints key=value blocks; the last out_time_us is how much
	// media went through the decoders.
	var outUS int64 = -1
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "out_time_us="); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				outUS = n
			}
		}
	}
	if got := time.Duration(outUS) * time.Microsecond; got < time.Duration(seconds-1)*time.Second {
		return fmt.Errorf("decode %s: only %v of media decoded, want %ds", url, got, seconds)
	}
	return nil
}

// WaitHTTPOK polls url until it answers 200 (e.g. an HLS playlist that exists
// only once the first segments are cut).
func WaitHTTPOK(ctx context.Context, url string) error {
	last := "no response"
	return waitFor(ctx, 200*time.Millisecond, func() bool {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		c := http.Client{Timeout: 5 * time.Second}
		resp, err := c.Do(req)
		if err != nil {
			last = err.Error()
			return false
		}
		resp.Body.Close()
		last = resp.Status
		return resp.StatusCode == http.StatusOK
	}, func() string { return fmt.Sprintf("%s never answered 200 (last: %s)", url, last) })
}

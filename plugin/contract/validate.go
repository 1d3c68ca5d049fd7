package contract

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits enforced by Validate.
const (
	MaxPathLen         = 256
	MaxQueryLen        = 4096
	MaxSourceFieldLen  = 256
	MaxPullURLLen      = 2048
	MinSegmentDuration = 1 * time.Second
	MaxSegmentDuration = 10 * time.Second
	MinPartDuration    = 100 * time.Millisecond
	MaxPartDuration    = 2 * time.Second
	MaxReconnectWindow = 10 * time.Minute
	MinWindowSegments  = 3
	MaxWindowSegments  = 60
	MinHoldBackParts   = 3
	MaxHoldBackParts   = 20
)

// ValidationError names the offending field and value.
type ValidationError struct {
	Field  string // e.g. "path", "options.part_duration"
	Value  string // the bad value, quoted with %q when printed
	Reason string
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("invalid %s %q: %s", e.Field, e.Value, e.Reason)
}

func verr(field, value, format string, args ...any) error {
	if len(value) > 300 {
		value = value[:300] + "..."
	}
	return &ValidationError{Field: field, Value: value, Reason: fmt.Sprintf(format, args...)}
}

// Validate checks every field; the error (a *ValidationError, or several
// joined with errors.Join) names the field and the bad value.
func (r AttachRequest) Validate() error {
	var errs []error
	if err := ValidatePath(r.Path); err != nil {
		errs = append(errs, err)
	}
	if err := checkText("query", r.Query, MaxQueryLen); err != nil {
		errs = append(errs, err)
	}
	if err := checkText("source_type", r.SourceType, MaxSourceFieldLen); err != nil {
		errs = append(errs, err)
	}
	if err := checkText("source_id", r.SourceID, MaxSourceFieldLen); err != nil {
		errs = append(errs, err)
	}
	if err := ValidatePullURL(r.PullURL); err != nil {
		errs = append(errs, err)
	}
	if err := r.Options.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// ValidatePath checks a MediaMTX path name: 1..256 bytes of A-Za-z0-9 _ - . / ~,
// no leading or trailing slash, no empty segment, no ".." segment.
func ValidatePath(p string) error {
	if p == "" {
		return verr("path", p, "must not be empty")
	}
	if len(p) > MaxPathLen {
		return verr("path", p, "longer than %d bytes", MaxPathLen)
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '_' || c == '-' || c == '.' || c == '/' || c == '~'
		if !ok {
			return verr("path", p, "character %q at offset %d not allowed (allowed: A-Z a-z 0-9 _ - . / ~)", rune(c), i)
		}
	}
	if p[0] == '/' || p[len(p)-1] == '/' {
		return verr("path", p, "must not begin or end with a slash")
	}
	for _, seg := range strings.Split(p, "/") {
		switch seg {
		case "":
			return verr("path", p, "must not contain an empty segment (//)")
		case ".", "..":
			return verr("path", p, "must not contain a %q segment", seg)
		}
	}
	if strings.Contains(p, "..") {
		return verr("path", p, `must not contain ".."`)
	}
	return nil
}

// ValidatePullURL checks that u is an rtsp://, rtsps://, rtmp:// or rtmps://
// URL with a host. swarmtx pulls over RTSP by default: MediaMTX drops RTMP
// readers of B-frame streams whose DTS it cannot derive.
func ValidatePullURL(u string) error {
	if u == "" {
		return verr("pull_url", u, "must not be empty")
	}
	if len(u) > MaxPullURLLen {
		return verr("pull_url", u, "longer than %d bytes", MaxPullURLLen)
	}
	for i, c := range u {
		if c < 0x21 || c == 0x7f || c == utf8.RuneError {
			return verr("pull_url", u, "control character, space or invalid UTF-8 at offset %d", i)
		}
	}
	pu, err := url.Parse(u)
	if err != nil {
		return verr("pull_url", u, "not a URL: %v", err)
	}
	switch pu.Scheme {
	case "rtsp", "rtsps", "rtmp", "rtmps":
	default:
		return verr("pull_url", u, "scheme must be rtsp, rtsps, rtmp or rtmps")
	}
	if pu.Host == "" || pu.Hostname() == "" {
		return verr("pull_url", u, "missing host")
	}
	if port := pu.Port(); port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return verr("pull_url", u, "bad port %q", port)
		}
	}
	return nil
}

func checkText(field, v string, max int) error {
	if len(v) > max {
		return verr(field, v, "longer than %d bytes", max)
	}
	if !utf8.ValidString(v) {
		return verr(field, v, "not valid UTF-8")
	}
	for i, c := range v {
		if c < 0x20 || c == 0x7f {
			return verr(field, v, "control character at offset %d", i)
		}
	}
	return nil
}

// Validate checks the ranges documented on StreamOptions.
func (o StreamOptions) Validate() error {
	var errs []error
	if o.SegmentDuration < MinSegmentDuration || o.SegmentDuration > MaxSegmentDuration {
		errs = append(errs, verr("options.segment_duration", o.SegmentDuration.String(), "must be between %v and %v", MinSegmentDuration, MaxSegmentDuration))
	}
	if o.PartDuration < MinPartDuration || o.PartDuration > MaxPartDuration {
		errs = append(errs, verr("options.part_duration", o.PartDuration.String(), "must be between %v and %v", MinPartDuration, MaxPartDuration))
	} else if o.PartDuration > o.SegmentDuration/2 {
		errs = append(errs, verr("options.part_duration", o.PartDuration.String(), "must be at most half the segment duration (%v)", o.SegmentDuration))
	}
	if o.ReconnectWindow < 0 || o.ReconnectWindow > MaxReconnectWindow {
		errs = append(errs, verr("options.reconnect_window", o.ReconnectWindow.String(), "must be between 0s and %v", MaxReconnectWindow))
	}
	if o.WindowSegments < MinWindowSegments || o.WindowSegments > MaxWindowSegments {
		errs = append(errs, verr("options.window_segments", strconv.Itoa(o.WindowSegments), "must be between %d and %d", MinWindowSegments, MaxWindowSegments))
	}
	if o.HoldBackParts < MinHoldBackParts || o.HoldBackParts > MaxHoldBackParts {
		errs = append(errs, verr("options.hold_back_parts", strconv.Itoa(o.HoldBackParts), "must be between %d and %d", MinHoldBackParts, MaxHoldBackParts))
	} else if d := time.Duration(o.HoldBackParts) * o.PartDuration; d > 2*o.SegmentDuration {
		// Parts are listed for the newest few segments only; a player held
		// further back would start where the playlist lists no parts.
		errs = append(errs, verr("options.hold_back_parts", strconv.Itoa(o.HoldBackParts), "%d parts of %v is %v, more than two segments (%v); lengthen the segments for a longer hold-back", o.HoldBackParts, o.PartDuration, d, 2*o.SegmentDuration))
	}
	// The ladder's meaning is the plugin's to check, where it builds the
	// ladder; the contract bounds its size.
	if o.Ladder == "" || len(o.Ladder) > 256 {
		errs = append(errs, verr("options.ladder", o.Ladder, "must be 1 to 256 bytes"))
	}
	return errors.Join(errs...)
}

package contract

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func validReq() AttachRequest {
	return AttachRequest{
		Path: "live/show", Query: "token=abc", SourceType: "rtmpConn", SourceID: "1a2b",
		PullURL: "rtmp://127.0.0.1:1935/live/show",
		Options: DefaultStreamOptions(),
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(*AttachRequest)
		field   string // "" = valid
		wantVal string
	}{
		{"ok", func(*AttachRequest) {}, "", ""},
		{"ok tilde dots", func(r *AttachRequest) { r.Path = "~user/a.b_c-d/E9" }, "", ""},
		{"ok rtmps", func(r *AttachRequest) { r.PullURL = "rtmps://localhost:1936/live/show?user=a&pass=b" }, "", ""},
		{"ok rtsp", func(r *AttachRequest) { r.PullURL = "rtsp://127.0.0.1:8554/live/show" }, "", ""},
		{"ok no reconnect", func(r *AttachRequest) { r.Options.ReconnectWindow = 0 }, "", ""},
		{"ok source only", func(r *AttachRequest) { r.Options.Ladder = "source" }, "", ""},
		{"ok bounds", func(r *AttachRequest) {
			r.Options = StreamOptions{SegmentDuration: time.Second, PartDuration: 500 * time.Millisecond, ReconnectWindow: 10 * time.Minute, Ladder: "source, 1080p", WindowSegments: 60, HoldBackParts: 4}
		}, "", ""},
		{"empty path", func(r *AttachRequest) { r.Path = "" }, "path", ""},
		{"leading slash", func(r *AttachRequest) { r.Path = "/live/show" }, "path", "/live/show"},
		{"trailing slash", func(r *AttachRequest) { r.Path = "live/show/" }, "path", "live/show/"},
		{"dotdot", func(r *AttachRequest) { r.Path = "live/../etc" }, "path", "live/../etc"},
		{"dotdot inside", func(r *AttachRequest) { r.Path = "live/a..b" }, "path", "live/a..b"},
		{"double slash", func(r *AttachRequest) { r.Path = "live//show" }, "path", "live//show"},
		{"space", func(r *AttachRequest) { r.Path = "live/my show" }, "path", "live/my show"},
		{"nul", func(r *AttachRequest) { r.Path = "live/\x00" }, "path", "live/\x00"},
		{"utf8", func(r *AttachRequest) { r.Path = "live/ш" }, "path", "live/ш"},
		{"too long", func(r *AttachRequest) { r.Path = strings.Repeat("a", 257) }, "path", ""},
		{"max len", func(r *AttachRequest) { r.Path = strings.Repeat("a", 256) }, "", ""},
		{"query ctl", func(r *AttachRequest) { r.Query = "a=\n" }, "query", "a=\n"},
		{"source id ctl", func(r *AttachRequest) { r.SourceID = "\x1b[31m" }, "source_id", "\x1b[31m"},
		{"http url", func(r *AttachRequest) { r.PullURL = "http://127.0.0.1/live" }, "pull_url", "http://127.0.0.1/live"},
		{"file url", func(r *AttachRequest) { r.PullURL = "file:///etc/passwd" }, "pull_url", "file:///etc/passwd"},
		{"no host", func(r *AttachRequest) { r.PullURL = "rtmp:///live" }, "pull_url", "rtmp:///live"},
		{"empty url", func(r *AttachRequest) { r.PullURL = "" }, "pull_url", ""},
		{"bad port", func(r *AttachRequest) { r.PullURL = "rtmp://h:99999/x" }, "pull_url", "rtmp://h:99999/x"},
		{"space url", func(r *AttachRequest) { r.PullURL = "rtmp://h/x y" }, "pull_url", "rtmp://h/x y"},
		{"seg short", func(r *AttachRequest) { r.Options.SegmentDuration = 999 * time.Millisecond }, "options.segment_duration", "999ms"},
		{"seg long", func(r *AttachRequest) { r.Options.SegmentDuration = 11 * time.Second }, "options.segment_duration", "11s"},
		{"part short", func(r *AttachRequest) { r.Options.PartDuration = 99 * time.Millisecond }, "options.part_duration", "99ms"},
		{"part long", func(r *AttachRequest) {
			r.Options.PartDuration = 3 * time.Second
			r.Options.SegmentDuration = 10 * time.Second
		}, "options.part_duration", "3s"},
		{"part over half", func(r *AttachRequest) { r.Options.PartDuration = 1500 * time.Millisecond }, "options.part_duration", "1.5s"},
		{"reconnect neg", func(r *AttachRequest) { r.Options.ReconnectWindow = -time.Second }, "options.reconnect_window", "-1s"},
		{"reconnect long", func(r *AttachRequest) { r.Options.ReconnectWindow = 11 * time.Minute }, "options.reconnect_window", "11m0s"},
		{"window small", func(r *AttachRequest) { r.Options.WindowSegments = 2 }, "options.window_segments", "2"},
		{"window big", func(r *AttachRequest) { r.Options.WindowSegments = 61 }, "options.window_segments", "61"},
		{"hold-back small", func(r *AttachRequest) { r.Options.HoldBackParts = 2 }, "options.hold_back_parts", "2"},
		{"hold-back big", func(r *AttachRequest) { r.Options.HoldBackParts = 21 }, "options.hold_back_parts", "21"},
		{"hold-back past the listed parts", func(r *AttachRequest) { r.Options.HoldBackParts = 9 }, "options.hold_back_parts", "9"},
		{"ladder empty", func(r *AttachRequest) { r.Options.Ladder = "" }, "options.ladder", ""},
		{"ladder long", func(r *AttachRequest) { r.Options.Ladder = strings.Repeat("720p,", 52) }, "options.ladder", strings.Repeat("720p,", 52)},
		{"zero options", func(r *AttachRequest) { r.Options = StreamOptions{} }, "options.segment_duration", "0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := validReq()
			tt.mod(&r)
			err := r.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("want error for field %s", tt.field)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v is not a *ValidationError", err)
			}
			if ve.Field != tt.field {
				t.Fatalf("field = %q, want %q (err %v)", ve.Field, tt.field, err)
			}
			if tt.wantVal != "" && ve.Value != tt.wantVal {
				t.Fatalf("value = %q, want %q", ve.Value, tt.wantVal)
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("message %q does not name the field", err)
			}
		})
	}
}

func TestPermanent(t *testing.T) {
	base := errors.New("unsupported codec HEVC on live/show")
	p := Permanent(base)
	if !IsPermanent(p) || !errors.Is(p, base) || p.Error() != base.Error() {
		t.Fatalf("Permanent wrapping broken: %v", p)
	}
	if IsPermanent(base) || Permanent(nil) != nil {
		t.Fatal("unexpected")
	}
	if !IsPermanent(errorsJoin(p)) {
		t.Fatal("wrapped permanent not detected")
	}
}

func errorsJoin(err error) error { return errors.Join(errors.New("ctx"), err) }

func FuzzValidate(f *testing.F) {
	f.Add("live/show", "a=b", "rtmp://127.0.0.1:1935/live/show", int64(2000), int64(500), int64(30000), "source,720p", 8)
	f.Add("../x", "\x00", "http://x", int64(-1), int64(1<<62), int64(0), "p", 0)
	f.Add("a//b", "", "rtmps://[::1]:1/x", int64(1<<62), int64(1), int64(1), ",,,", 1<<30)
	f.Fuzz(func(t *testing.T, path, query, pull string, segMs, partMs, recMs int64, ladder string, window int) {
		r := AttachRequest{Path: path, Query: query, PullURL: pull, Options: StreamOptions{
			SegmentDuration: dur(segMs), PartDuration: dur(partMs), ReconnectWindow: dur(recMs), Ladder: ladder, WindowSegments: window,
		}}
		err := r.Validate()
		if err != nil {
			return
		}
		// Accepted requests must satisfy the invariants.
		if strings.Contains(r.Path, "..") || strings.HasPrefix(r.Path, "/") || strings.HasSuffix(r.Path, "/") || len(r.Path) > MaxPathLen || r.Path == "" {
			t.Fatalf("accepted bad path %q", r.Path)
		}
		if !strings.HasPrefix(r.PullURL, "rtmp://") && !strings.HasPrefix(r.PullURL, "rtmps://") && !strings.HasPrefix(r.PullURL, "rtsp://") && !strings.HasPrefix(r.PullURL, "rtsps://") {
			t.Fatalf("accepted bad url %q", r.PullURL)
		}
		o := r.Options
		if o.PartDuration > o.SegmentDuration/2 || o.WindowSegments < 3 || o.WindowSegments > 60 {
			t.Fatalf("accepted bad options %+v", o)
		}
		// Round trip through protobuf keeps it valid.
		if err := attachRequestFromPB(attachRequestToPB(r)).Validate(); err != nil {
			t.Fatalf("round trip broke validity: %v", err)
		}
	})
}

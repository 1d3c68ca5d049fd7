package llhls

import (
	"strings"
	"testing"
)

func TestParseByteRange(t *testing.T) {
	for _, tc := range []struct {
		header  string
		size    int
		want    ByteRange
		ok      bool
		wantErr string
	}{
		{header: "", size: 100},
		{header: "items=0-5", size: 100},
		{header: "bytes=40-", size: 100, want: ByteRange{40, 100}, ok: true},
		{header: "bytes=0-9", size: 100, want: ByteRange{0, 10}, ok: true},
		{header: "bytes=90-200", size: 100, want: ByteRange{90, 100}, ok: true},
		{header: "bytes=-30", size: 100, want: ByteRange{70, 100}, ok: true},
		{header: "bytes=-300", size: 100, want: ByteRange{0, 100}, ok: true},
		{header: "bytes=100-", size: 100, wantErr: "past the end"},
		{header: "bytes=-0", size: 100, wantErr: "past the end"},
		{header: "bytes=9-3", size: 100, wantErr: "before the first"},
		{header: "bytes=0-4,10-20", size: 100, wantErr: "only one byte range"},
		{header: "bytes=a-", size: 100, wantErr: "not a byte position"},
		{header: "bytes=+5-", size: 100, wantErr: "not a byte position"},
		{header: "bytes=5", size: 100, wantErr: "no '-'"},
		{header: "bytes=99999999999999999999-", size: 100, wantErr: "not a byte position"},
	} {
		got, ok, err := ParseByteRange(tc.header, tc.size)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: err %v, want one saying %q", tc.header, err, tc.wantErr)
			}
			continue
		}
		if err != nil || ok != tc.ok || got != tc.want {
			t.Errorf("%q of %d bytes: %+v %v %v, want %+v %v", tc.header, tc.size, got, ok, err, tc.want, tc.ok)
		}
	}
}

func FuzzParseByteRange(f *testing.F) {
	for _, s := range []string{"bytes=0-", "bytes=10-20", "bytes=-5", "bytes=5-1", "bytes=0-1,2-3", "bytes=", "bytes=-", "bytes= 7-"} {
		f.Add(s, 100)
	}
	f.Fuzz(func(t *testing.T, header string, size int) {
		if size < 0 || size > 1<<24 {
			return
		}
		r, ok, err := ParseByteRange(header, size)
		if err != nil && ok {
			t.Fatalf("%q: both a range and an error", header)
		}
		if ok && (r.Start < 0 || r.End > size || r.Start >= r.End) {
			t.Fatalf("%q of %d bytes: range %+v is not inside the resource", header, size, r)
		}
	})
}

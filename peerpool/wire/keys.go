package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// protocolKeys is every JSON key the protocol defines, from the struct tags
// of the message types. encoding/json matches keys case-insensitively and
// lets a repeated key overwrite an earlier one; checkKeys closes both gaps.
var protocolKeys = func() map[string]bool {
	keys := map[string]bool{"t": true}
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || seen[t] {
			return
		}
		seen[t] = true
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name != "" && name != "-" {
				keys[name] = true
			}
			walk(f.Type)
		}
	}
	for _, s := range []Signal{&Join{}, &Relay{}, &Rendition{}, &Stats{}, &Report{}, &Welcome{}, &Peers{}, &PartAnnounce{}, &ServerError{}} {
		walk(reflect.TypeOf(s))
	}
	return keys
}()

// checkKeys walks one JSON value (already known to be well-formed) and
// rejects any object key that is not exactly a protocol key and any key
// repeated within one object.
func checkKeys(data []byte) error {
	type level struct {
		object  bool
		wantKey bool
		keys    map[string]bool
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var stack []level
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].wantKey {
			top := &stack[n-1]
			if k, ok := tok.(string); ok {
				if !protocolKeys[k] {
					return fmt.Errorf("unknown field %s (keys are case-sensitive)", quoteShort(k))
				}
				if top.keys[k] {
					return fmt.Errorf("field %s appears twice", quoteShort(k))
				}
				if top.keys == nil {
					top.keys = map[string]bool{}
				}
				top.keys[k] = true
				top.wantKey = false
				continue
			}
			// Only '}' can stand where a key is expected.
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, level{object: true, wantKey: true})
			continue
		case json.Delim('['):
			stack = append(stack, level{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		// A value (scalar or a closed container) ended: the enclosing
		// object, if any, expects a key next.
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].wantKey = true
		}
	}
}

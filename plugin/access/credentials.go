package access

import (
	"net/http"
	"strings"
)

// CredentialsFrom takes the credentials of an HTTP request as MediaMTX's
// HLS server does: "Authorization: Bearer user:pass" or "Bearer <token>"
// first, else basic auth. A token in the query (?jwt=) is not taken here:
// MediaMTX reads it from the query when it checks a JWT.
func CredentialsFrom(r *http.Request) Credentials {
	for _, h := range r.Header["Authorization"] {
		if rest, ok := strings.CutPrefix(h, "Bearer "); ok {
			if parts := strings.Split(rest, ":"); len(parts) == 2 {
				return Credentials{User: parts[0], Pass: parts[1]}
			}
			return Credentials{Token: rest}
		}
	}
	var c Credentials
	c.User, c.Pass, _ = r.BasicAuth()
	return c
}

package access

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// HTTP is authMethod http: requests not excluded are asked of the
// operator's auth service at Address with the JSON body MediaMTX sends
// (protocol "hls"); a 2xx answer allows. Answers are kept for CacheFor, so
// a viewer's stream of part requests costs one call, not one each.
type HTTP struct {
	Address  string
	Exclude  []Permission
	Client   *http.Client  // nil: a client with a 5 s timeout
	CacheFor time.Duration // 0: 10 s

	mu    sync.Mutex
	cache map[httpKey]httpAnswer
}

type httpKey struct {
	ip, user, pass, token, path, query string
	action                             Action
}

type httpAnswer struct {
	err     error
	expires time.Time
}

// maxCached bounds the answers kept; past it, expired ones are dropped,
// and if none is, the cache starts over.
const maxCached = 16384

// Open implements Opener: authHTTPExclude lets r through unasked.
func (h *HTTP) Open(r Request) bool { return matches(h.Exclude, r) }

// Check implements Checker.
func (h *HTTP) Check(ctx context.Context, r Request) error {
	if matches(h.Exclude, r) {
		return nil
	}
	key := httpKey{ip: r.IP.String(), user: r.User, pass: r.Pass, token: r.Token, path: r.Path, query: r.Query, action: r.Action}
	now := time.Now()
	h.mu.Lock()
	if a, ok := h.cache[key]; ok && now.Before(a.expires) {
		h.mu.Unlock()
		return a.err
	}
	h.mu.Unlock()

	err := h.ask(ctx, r)
	if err != nil && ctx.Err() != nil {
		return err // the client went away: nothing learnt
	}
	ttl := h.CacheFor
	if ttl <= 0 {
		ttl = 10 * time.Second
	}
	h.mu.Lock()
	if h.cache == nil {
		h.cache = make(map[httpKey]httpAnswer)
	}
	if len(h.cache) >= maxCached {
		for k, a := range h.cache {
			if !now.Before(a.expires) {
				delete(h.cache, k)
			}
		}
		if len(h.cache) >= maxCached {
			clear(h.cache)
		}
	}
	h.cache[key] = httpAnswer{err: err, expires: now.Add(ttl)}
	h.mu.Unlock()
	return err
}

// ask makes MediaMTX's request to the auth service.
func (h *HTTP) ask(ctx context.Context, r Request) error {
	body, _ := json.Marshal(struct {
		IP       string  `json:"ip"`
		User     string  `json:"user"`
		Password string  `json:"password"`
		Token    string  `json:"token"`
		Action   string  `json:"action"`
		Path     string  `json:"path"`
		Protocol string  `json:"protocol"`
		ID       *string `json:"id"`
		Query    string  `json:"query"`
	}{
		IP: r.IP.String(), User: r.User, Password: r.Pass, Token: r.Token,
		Action: string(r.Action), Path: r.Path, Protocol: "hls", Query: r.Query,
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.Address, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("auth service %s: %w", h.Address, err)
	}
	req.Header.Set("Content-Type", "application/json")
	client := h.Client
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	res, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("auth service %s: %w", h.Address, err)
	}
	defer res.Body.Close()
	if res.StatusCode >= 200 && res.StatusCode <= 299 {
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
		return nil
	}
	msg, _ := io.ReadAll(io.LimitReader(res.Body, 512))
	return &Denied{
		Reason:         fmt.Errorf("auth service answered %d %s", res.StatusCode, bytes.TrimSpace(msg)),
		AskCredentials: r.Credentials.empty(),
	}
}

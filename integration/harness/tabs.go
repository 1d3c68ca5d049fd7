package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// Tabs is a headless Chromium whose tabs open pages as a viewer would type
// their address, driven over the DevTools protocol. Unlike StartBrowser's
// launcher (an iframe per player, on the harness's own origin), a tab's
// page is a top-level document of its own origin, so it can stand for a
// viewer of the built-in player page, and it can answer the browser's HTTP
// authentication prompt.
type Tabs struct {
	*chromium
	port   int
	client *http.Client // reaches DevTools on the browser's loopback
}

// StartTabs launches Chromium with no page yet; it is stopped on cleanup.
func StartTabs(t testing.TB, flags ...string) *Tabs {
	t.Helper()
	return StartTabsIn(t, "", flags...)
}

// StartTabsIn is StartTabs with Chromium in the network namespace at netns
// (a /proc/<pid>/ns/net path such as Home.Netns()); "" is the test's own.
// DevTools stays on that namespace's loopback; the harness dials it from
// inside the namespace.
func StartTabsIn(t testing.TB, netns string, flags ...string) *Tabs {
	t.Helper()
	client := http.DefaultClient
	if netns != "" {
		client = &http.Client{Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				return dialInNetns(ctx, netns, network, addr)
			},
		}}
	}
	tb := &Tabs{client: client, chromium: startChromiumIn(t, netns, 0, append([]string{
		"--window-size=800,600",
		"--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
	}, append(flags, "about:blank")...)...)}
	// Chromium writes the port it picked once DevTools listens.
	deadline := time.Now().Add(30 * time.Second)
	for tb.port == 0 {
		b, err := os.ReadFile(filepath.Join(tb.profile, "DevToolsActivePort"))
		if err == nil {
			tb.port, _ = strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
		}
		if tb.port == 0 {
			select {
			case <-tb.done:
				t.Fatalf("chromium exited before DevTools listened; log:\n%s", tb.Log())
			case <-time.After(100 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("chromium: no DevToolsActivePort after 30s; log:\n%s", tb.Log())
			}
		}
	}
	return tb
}

// Login is what a viewer types into the browser's authentication prompt;
// the zero Login cancels the prompt, as a viewer without a password does.
type Login struct{ User, Pass string }

// Tab is one page.
type Tab struct {
	conn *websocket.Conn

	mu      sync.Mutex
	nextID  int64
	waiting map[int64]chan cdpMessage
	// Prompts counts authentication prompts answered.
	prompts    int
	docStatus  []int
	wsRequests []WebSocketHandshake
	byRequest  map[string]int
	log        []string
}

// WebSocketHandshake is a WebSocket the page opened, as DevTools saw it.
type WebSocketHandshake struct {
	URL string
	// Authorization tells whether the handshake request carried an
	// Authorization header (its value is not kept).
	Authorization bool
	// Status is the handshake response's status; 0 when none came (a
	// refused handshake surfaces as an error, not a response).
	Status int
	Error  string
}

type cdpMessage struct {
	ID     int64           `json:"id,omitempty"`
	Method string          `json:"method,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *struct {
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

// Open opens url in a new tab; the browser's authentication prompts are
// answered with login.
func (tb *Tabs) Open(ctx context.Context, t testing.TB, url string, login Login) *Tab {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, fmt.Sprintf("http://127.0.0.1:%d/json/new?about:blank", tb.port), nil)
	resp, err := tb.client.Do(req)
	if err != nil {
		t.Fatalf("devtools: new tab: %v", err)
	}
	var target struct {
		WebSocketDebuggerURL string `json:"webSocketDebuggerUrl"`
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := json.Unmarshal(body, &target); err != nil || target.WebSocketDebuggerURL == "" {
		t.Fatalf("devtools: new tab: %d %s", resp.StatusCode, body)
	}
	conn, _, err := websocket.Dial(ctx, target.WebSocketDebuggerURL, &websocket.DialOptions{HTTPClient: tb.client})
	if err != nil {
		t.Fatalf("devtools: attach to tab: %v", err)
	}
	conn.SetReadLimit(64 << 20)
	tab := &Tab{conn: conn, waiting: map[int64]chan cdpMessage{}, byRequest: map[string]int{}}
	t.Cleanup(func() { conn.CloseNow() })
	go tab.read(context.Background(), login)
	for _, m := range []struct {
		method string
		params any
	}{
		{"Network.enable", map[string]any{}},
		// A refused WebSocket handshake shows only in the browser's log.
		{"Log.enable", map[string]any{}},
		// Every request pauses so that the authentication challenges reach
		// the test as the prompt would reach a viewer.
		{"Fetch.enable", map[string]any{"handleAuthRequests": true, "patterns": []map[string]string{{"urlPattern": "*"}}}},
		{"Page.navigate", map[string]any{"url": url}},
	} {
		if _, err := tab.Call(ctx, m.method, m.params); err != nil {
			t.Fatalf("devtools: %s: %v", m.method, err)
		}
	}
	return tab
}

// Call sends one DevTools command and returns its result.
func (tab *Tab) Call(ctx context.Context, method string, params any) (json.RawMessage, error) {
	p, err := json.Marshal(params)
	if err != nil {
		return nil, err
	}
	ch := make(chan cdpMessage, 1)
	tab.mu.Lock()
	tab.nextID++
	id := tab.nextID
	tab.waiting[id] = ch
	tab.mu.Unlock()
	msg, _ := json.Marshal(cdpMessage{ID: id, Method: method, Params: p})
	if err := tab.conn.Write(ctx, websocket.MessageText, msg); err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: %w", method, ctx.Err())
	case r, ok := <-ch:
		if !ok {
			return nil, fmt.Errorf("%s: DevTools connection closed", method)
		}
		if r.Error != nil {
			return nil, fmt.Errorf("%s: %s", method, r.Error.Message)
		}
		return r.Result, nil
	}
}

// Eval evaluates a JavaScript expression in the page and decodes its
// (JSON-serialisable) value into v.
func (tab *Tab) Eval(ctx context.Context, expr string, v any) error {
	res, err := tab.Call(ctx, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true})
	if err != nil {
		return err
	}
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := json.Unmarshal(res, &r); err != nil {
		return err
	}
	if r.ExceptionDetails != nil {
		return fmt.Errorf("evaluate %q: %s", expr, r.ExceptionDetails.Text)
	}
	if len(r.Result.Value) == 0 {
		return fmt.Errorf("evaluate %q: undefined", expr)
	}
	return json.Unmarshal(r.Result.Value, v)
}

// DocumentStatuses are the HTTP statuses of the tab's page loads so far.
func (tab *Tab) DocumentStatuses() []int {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	return append([]int(nil), tab.docStatus...)
}

// WebSockets are the WebSockets the page opened so far.
func (tab *Tab) WebSockets() []WebSocketHandshake {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	return append([]WebSocketHandshake(nil), tab.wsRequests...)
}

// Log is what the browser logged about the page (network errors, among
// them refused WebSocket handshakes).
func (tab *Tab) Log() []string {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	return append([]string(nil), tab.log...)
}

// Prompts is how many authentication prompts were answered.
func (tab *Tab) Prompts() int {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	return tab.prompts
}

func (tab *Tab) read(ctx context.Context, login Login) {
	defer func() {
		tab.mu.Lock()
		for id, ch := range tab.waiting {
			close(ch)
			delete(tab.waiting, id)
		}
		tab.mu.Unlock()
	}()
	for {
		_, b, err := tab.conn.Read(ctx)
		if err != nil {
			return
		}
		var m cdpMessage
		if json.Unmarshal(b, &m) != nil {
			continue
		}
		if m.ID != 0 {
			tab.mu.Lock()
			ch := tab.waiting[m.ID]
			delete(tab.waiting, m.ID)
			tab.mu.Unlock()
			if ch != nil {
				ch <- m
			}
			continue
		}
		tab.event(ctx, m, login)
	}
}

// event handles what the page does: paused requests go on, prompts are
// answered, and page loads and WebSocket handshakes are recorded.
func (tab *Tab) event(ctx context.Context, m cdpMessage, login Login) {
	var p struct {
		RequestID string `json:"requestId"`
		Type      string `json:"type"`
		URL       string `json:"url"`
		Request   struct {
			Headers map[string]string `json:"headers"`
		} `json:"request"`
		Response struct {
			Status int `json:"status"`
		} `json:"response"`
		ErrorMessage string `json:"errorMessage"`
		Entry        struct {
			Text string `json:"text"`
		} `json:"entry"`
	}
	_ = json.Unmarshal(m.Params, &p)
	// Commands sent from here must not wait for their answers: this
	// goroutine reads them.
	send := func(method string, params any) {
		tab.mu.Lock()
		tab.nextID++
		id := tab.nextID
		tab.mu.Unlock()
		pb, _ := json.Marshal(params)
		msg, _ := json.Marshal(cdpMessage{ID: id, Method: method, Params: pb})
		_ = tab.conn.Write(ctx, websocket.MessageText, msg)
	}
	tab.mu.Lock()
	defer tab.mu.Unlock()
	switch m.Method {
	case "Fetch.requestPaused":
		go send("Fetch.continueRequest", map[string]any{"requestId": p.RequestID})
	case "Fetch.authRequired":
		answer := map[string]any{"response": "CancelAuth"}
		if login != (Login{}) {
			answer = map[string]any{"response": "ProvideCredentials", "username": login.User, "password": login.Pass}
			tab.prompts++
		}
		go send("Fetch.continueWithAuth", map[string]any{"requestId": p.RequestID, "authChallengeResponse": answer})
	case "Network.responseReceived":
		if p.Type == "Document" {
			tab.docStatus = append(tab.docStatus, p.Response.Status)
		}
	case "Network.webSocketCreated":
		tab.byRequest[p.RequestID] = len(tab.wsRequests)
		tab.wsRequests = append(tab.wsRequests, WebSocketHandshake{URL: p.URL})
	case "Network.webSocketWillSendHandshakeRequest":
		if i, ok := tab.byRequest[p.RequestID]; ok {
			for k := range p.Request.Headers {
				if strings.EqualFold(k, "Authorization") {
					tab.wsRequests[i].Authorization = true
				}
			}
		}
	case "Network.webSocketHandshakeResponseReceived":
		if i, ok := tab.byRequest[p.RequestID]; ok {
			tab.wsRequests[i].Status = p.Response.Status
		}
	case "Log.entryAdded":
		tab.log = append(tab.log, p.Entry.Text)
	case "Network.webSocketFrameError":
		if i, ok := tab.byRequest[p.RequestID]; ok {
			tab.wsRequests[i].Error = p.ErrorMessage
		}
	}
}

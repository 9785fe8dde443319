package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/realname-io/realname/internal/sandbox"
)

// httpClient serves every request of the harness to its children.
var httpClient = &http.Client{Timeout: 10 * time.Second}

// Sandbox is a running `realname sandbox`, and a client of its
// administration routes.
type Sandbox struct {
	*Proc
	// URL is http://host:port.
	URL string
}

// StartSandbox starts a sandbox named name with a provider-wide quota in
// calls/s (0: none) and an answer delay (the sandbox's --latency syntax),
// answering the fixture, on a port it picks itself; its start line says
// which.
func (h *Harness) StartSandbox(ctx context.Context, name string, quota int, latency string) (*Sandbox, error) {
	args := []string{"sandbox", "--addr", "127.0.0.1:0", "--fixture", h.Fixture, "--latency", latency}
	if quota > 0 {
		args = append(args, "--quota", strconv.Itoa(quota))
	}
	env := append(BaseEnv(),
		"REALNAME_SANDBOX_SECRET_ID="+SecretID,
		"REALNAME_SANDBOX_SECRET_KEY="+SecretKey,
		"REALNAME_LOG_LEVEL=info", // the start line; calls are logged at debug only
	)
	p, err := h.Start(name, env, h.Bin, args...)
	if err != nil {
		return nil, err
	}
	addr, err := WaitLogLine(ctx, p, func(line string) (string, bool) {
		var l struct{ Message, Addr string }
		if json.Unmarshal([]byte(line), &l) != nil || l.Message != "sandbox listening" {
			return "", false
		}
		return l.Addr, l.Addr != ""
	})
	if err != nil {
		return nil, err
	}
	return &Sandbox{Proc: p, URL: "http://" + addr}, nil
}

// Stats reads the sandbox's meter.
func (s *Sandbox) Stats(ctx context.Context) (sandbox.Stats, error) {
	var st sandbox.Stats
	err := s.do(ctx, http.MethodGet, "/sandbox/stats", http.StatusOK, func(body io.Reader) error {
		return json.NewDecoder(body).Decode(&st)
	})
	return st, err
}

// Reset zeroes the sandbox's meter (and its memory of order numbers).
func (s *Sandbox) Reset(ctx context.Context) error {
	return s.do(ctx, http.MethodPost, "/sandbox/reset", http.StatusNoContent, nil)
}

// SetOutage switches provider (tencent-v2, tencent-v3, aliyun) off (on
// true: every call to it is answered 503 at once) or back on.
func (s *Sandbox) SetOutage(ctx context.Context, provider string, on bool) error {
	q := url.Values{"provider": {provider}, "on": {strconv.FormatBool(on)}}
	return s.do(ctx, http.MethodPost, "/sandbox/outage?"+q.Encode(), http.StatusOK, nil)
}

// do sends one administration request and passes the body of an answer
// with status want to read.
func (s *Sandbox) do(ctx context.Context, method, path string, want int, read func(io.Reader) error) error {
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path, nil)
	if err != nil {
		return err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return fmt.Errorf("sandbox %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		return fmt.Errorf("sandbox %s: %s", path, resp.Status)
	}
	if read == nil {
		return nil
	}
	return read(resp.Body)
}

// WaitCalls waits until the sandbox's meter shows at least n calls, and
// returns that reading. It gives up after timeout, when ctx ends, or when
// one of watch exits.
func (s *Sandbox) WaitCalls(ctx context.Context, n int64, timeout time.Duration, watch []*Proc) (sandbox.Stats, error) {
	var st sandbox.Stats
	err := Poll(ctx, 20*time.Millisecond, timeout, watch, func() (bool, error) {
		var err error
		st, err = s.Stats(ctx)
		return st.Calls >= n, err
	}, func() string { return fmt.Sprintf("%d of %d provider calls", st.Calls, n) })
	return st, err
}

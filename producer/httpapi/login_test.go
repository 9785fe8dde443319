package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/realname-io/realname/internal/apikey"
	"github.com/realname-io/realname/internal/keyring"
	"github.com/realname-io/realname/internal/redistest"
	"github.com/realname-io/realname/internal/task"
	"github.com/realname-io/realname/producer"
	"github.com/realname-io/realname/producer/httpapi"
)

// TestDashboardLogin: failed sign-ins from one address are limited (here
// 3 in a row, then none for an hour, even with a good key), and the
// cookie of a sign-in lives DashboardSession.
func TestDashboardLogin(t *testing.T) {
	t.Parallel()
	rdb := redistest.New(t).Client(t)
	codec, _ := task.NewCodec(keyring.Ephemeral())
	prod, err := producer.New(producer.Config{Redis: rdb, Codec: codec})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prod.Close() })
	_, good, err := apikey.New(rdb).Create(context.Background(), "viewer", []apikey.Scope{apikey.ScopeRead})
	if err != nil {
		t.Fatal(err)
	}
	serve := func(failures int) *httptest.Server {
		s, err := httpapi.New(httpapi.Config{Redis: rdb, Producer: prod, Monitoring: http.NotFoundHandler(),
			DashboardSession: 2 * time.Hour, LoginFailures: failures, LoginRetryAfter: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(s)
		t.Cleanup(srv.Close)
		return srv
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	login := func(srv *httptest.Server, key string) *http.Response {
		t.Helper()
		resp, err := noRedirect.PostForm(srv.URL+"/login", url.Values{"key": {key}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}

	srv := serve(3)
	for i := range 3 {
		if resp := login(srv, "rn_wrong_"+strings.Repeat("x", i)); resp.StatusCode != 401 {
			t.Fatalf("failed sign-in %d: %d, want 401", i+1, resp.StatusCode)
		}
	}
	if resp := login(srv, good); resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("sign-in after 3 failures: %d (Retry-After %q), want 429", resp.StatusCode, resp.Header.Get("Retry-After"))
	}

	resp := login(serve(3), good)
	if resp.StatusCode != 303 {
		t.Fatalf("good sign-in: %d, want 303", resp.StatusCode)
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "realname_key" {
			cookie = c
		}
	}
	if cookie == nil || cookie.MaxAge != 7200 || !cookie.HttpOnly {
		t.Fatalf("cookie %+v: want HttpOnly, Max-Age 7200 (DashboardSession 2h)", cookie)
	}
}

package httpapi

import (
	"html/template"
	"net"
	"strconv"
	"sync"

	"net/http"
	"time"

	"golang.org/x/time/rate"

	"github.com/realname-io/realname/internal/apikey"
)

var loginTmpl = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>realname — sign in</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:6rem auto;padding:0 1rem}
input{width:100%;padding:.5rem;margin:.5rem 0;font-family:monospace}button{padding:.5rem 1rem}.err{color:#b00}</style></head>
<body><h1>realname dashboard</h1>
<p>Paste an API key with the <code>read</code> scope (<code>admin</code> to act on tasks).</p>
{{if .}}<p class="err">{{.}}</p>{{end}}
<form method="post" action="/login"><input name="key" type="password" autocomplete="off" placeholder="rn_…" autofocus>
<button type="submit">Open the dashboard</button></form></body></html>`))

func (s *Server) loginPage(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = loginTmpl.Execute(w, "")
}

// login checks a key and keeps it in an HttpOnly cookie scoped to the
// dashboard, so the browser sends it and scripts cannot read it.
// Failed sign-ins are limited per client address (LoginFailures in a row,
// then one each LoginRetryAfter): keys cannot be guessed at speed.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	lim := s.logins.of(clientAddr(r))
	if lim.Tokens() < 1 {
		w.Header().Set("Retry-After", strconv.Itoa(int(s.cfg.LoginRetryAfter.Seconds())))
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusTooManyRequests)
		_ = loginTmpl.Execute(w, "Too many failed sign-ins from this address: wait a little.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	token := r.PostFormValue("key")
	key, err := s.keys.Authenticate(r.Context(), token)
	if err != nil || !key.Has(apikey.ScopeRead) {
		lim.Allow() // a failure spends a token
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		_ = loginTmpl.Execute(w, "That key is not a live key with the read scope.")
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: "realname_key", Value: token, Path: "/monitoring", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, Expires: time.Now().Add(s.cfg.DashboardSession),
		MaxAge: int(s.cfg.DashboardSession.Seconds()),
	})
	http.Redirect(w, r, "/monitoring/", http.StatusSeeOther)
}

// loginLimits holds a limiter of failed sign-ins per client address.
type loginLimits struct {
	burst int
	every time.Duration
	mu    sync.Mutex
	m     map[string]*rate.Limiter
}

// maxLoginLimits bounds the map: past it, the limits start afresh.
const maxLoginLimits = 10000

func newLoginLimits(burst int, every time.Duration) *loginLimits {
	return &loginLimits{burst: burst, every: every, m: make(map[string]*rate.Limiter)}
}

func (l *loginLimits) of(addr string) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.m[addr]
	if !ok {
		if len(l.m) >= maxLoginLimits {
			clear(l.m)
		}
		lim = rate.NewLimiter(rate.Every(l.every), l.burst)
		l.m[addr] = lim
	}
	return lim
}

// clientAddr is the request's remote host (without its port).
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

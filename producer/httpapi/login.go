package httpapi

import (
	"html/template"
	"net/http"
	"time"

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
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	token := r.PostFormValue("key")
	key, err := s.keys.Authenticate(r.Context(), token)
	if err != nil || !key.Has(apikey.ScopeRead) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		_ = loginTmpl.Execute(w, "That key is not a live key with the read scope.")
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: "realname_key", Value: token, Path: "/monitoring", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, Expires: time.Now().Add(12 * time.Hour),
	})
	http.Redirect(w, r, "/monitoring/", http.StatusSeeOther)
}

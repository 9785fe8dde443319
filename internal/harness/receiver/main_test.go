package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/realname-io/realname/internal/harness"
	"github.com/realname-io/realname/internal/webhook"
)

// TestArrivalLog: the log keeps each id's first arrival and counts its
// deliveries again; a summary leaves them out, and a reset forgets all.
func TestArrivalLog(t *testing.T) {
	t.Parallel()
	raw, err := webhook.GenerateSecret()
	if err != nil {
		t.Fatal(err)
	}
	secret, err := webhook.ParseSecret(raw)
	if err != nil {
		t.Fatal(err)
	}
	v, err := webhook.NewVerifier(secret)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := webhook.NewSigner(secret)
	if err != nil {
		t.Fatal(err)
	}
	l := &arrivalLog{verifier: v}
	if err := l.reset(); err != nil {
		t.Fatal(err)
	}
	deliver := func(id string, signed bool) int {
		body := []byte(`{"type":"verification.completed"}`)
		req := httptest.NewRequest(http.MethodPost, harness.HooksPath, bytes.NewReader(body))
		if signed {
			for k, vs := range signer.Headers(id, time.Now(), body) {
				req.Header[k] = vs
			}
		}
		rec := httptest.NewRecorder()
		l.ServeHTTP(rec, req)
		return rec.Code
	}
	for _, id := range []string{"wh:vrf:a", "wh:vrf:b", "wh:vrf:a", "wh:batch:x"} {
		if code := deliver(id, true); code != http.StatusNoContent {
			t.Fatalf("delivery of %s: HTTP %d", id, code)
		}
	}
	if code := deliver("wh:vrf:c", false); code != http.StatusUnauthorized {
		t.Fatalf("unsigned delivery: HTTP %d, want 401", code)
	}

	a := l.arrivals("wh:vrf:", false)
	if a.Count != 2 || a.Rejected != 1 || a.Duplicates != 1 || len(a.At) != 2 || a.Again["wh:vrf:a"] != 1 || len(a.Again) != 1 {
		t.Errorf("arrivals = %+v, want a and b, a once again, 1 rejected", a)
	}
	if a.Last < a.At["wh:vrf:a"] || a.Last < a.At["wh:vrf:b"] {
		t.Errorf("Last %d before an arrival %v", a.Last, a.At)
	}
	if s := l.arrivals("", true); s.Count != 3 || s.At != nil || s.Again != nil {
		t.Errorf("summary = %+v, want 3 ids and no detail", s)
	}
	if err := l.reset(); err != nil {
		t.Fatal(err)
	}
	if a := l.arrivals("", false); a.Count != 0 || a.Duplicates != 0 {
		t.Errorf("after a reset: %+v", a)
	}
}

package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// The spec's published example.
const (
	vectorSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTS     = 1614265330
	vectorBody   = `{"test": 2432232314}`
	vectorSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

// mustSecret parses s or fails the test.
func mustSecret(t testing.TB, s string) Secret {
	t.Helper()
	sec, err := ParseSecret(s)
	if err != nil {
		t.Fatalf("ParseSecret: %v", err)
	}
	return sec
}

// newSecret generates and parses a fresh secret.
func newSecret(t testing.TB) Secret {
	t.Helper()
	s, err := GenerateSecret()
	if err != nil {
		t.Fatalf("GenerateSecret: %v", err)
	}
	return mustSecret(t, s)
}

// mustSigner returns a Signer for secrets or fails the test.
func mustSigner(t testing.TB, secrets ...Secret) *Signer {
	t.Helper()
	s, err := NewSigner(secrets...)
	if err != nil {
		t.Fatalf("NewSigner: %v", err)
	}
	return s
}

// mustVerifier returns a Verifier for secrets or fails the test.
func mustVerifier(t testing.TB, secrets ...Secret) *Verifier {
	t.Helper()
	v, err := NewVerifier(secrets...)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

func TestSpecVector(t *testing.T) {
	t.Parallel()
	sec := mustSecret(t, vectorSecret)
	h := mustSigner(t, sec).Headers(vectorID, time.Unix(vectorTS, 0), []byte(vectorBody))

	if got := h.Get("webhook-signature"); got != vectorSig {
		t.Errorf("webhook-signature = %q, want the spec's %q", got, vectorSig)
	}
	if got := h.Get("webhook-id"); got != vectorID {
		t.Errorf("webhook-id = %q, want %q", got, vectorID)
	}
	if got := h.Get("webhook-timestamp"); got != strconv.Itoa(vectorTS) {
		t.Errorf("webhook-timestamp = %q, want %d", got, vectorTS)
	}

	v := mustVerifier(t, sec)
	v.now = func() time.Time { return time.Unix(vectorTS+60, 0) }
	if err := v.Verify([]byte(vectorBody), h); err != nil {
		t.Errorf("Verify(spec vector) at its own time: %v", err)
	}
	// The same headers today are long past the tolerance.
	if err := mustVerifier(t, sec).Verify([]byte(vectorBody), h); !errors.Is(err, ErrTimestamp) {
		t.Errorf("Verify(spec vector) now = %v, want ErrTimestamp", err)
	}
}

func TestRotation(t *testing.T) {
	t.Parallel()
	oldS, newS, other := newSecret(t), newSecret(t), newSecret(t)
	body := []byte(`{"event":"verification.completed"}`)
	h := mustSigner(t, oldS, newS).Headers("evt_1", time.Now(), body)

	sigs := strings.Split(h.Get("webhook-signature"), " ")
	if len(sigs) != 2 {
		t.Fatalf("webhook-signature has %d signatures, want 2: %q", len(sigs), sigs)
	}
	for _, s := range sigs {
		if !strings.HasPrefix(s, "v1,") {
			t.Errorf("signature %q lacks the v1, prefix", s)
		}
	}
	if sigs[0] == sigs[1] {
		t.Errorf("both signatures are equal")
	}

	cases := []struct {
		name    string
		secrets []Secret
		wantErr error
	}{
		{"old only", []Secret{oldS}, nil},
		{"new only", []Secret{newS}, nil},
		{"both", []Secret{newS, oldS}, nil},
		{"neither", []Secret{other}, ErrBadSignature},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := mustVerifier(t, tc.secrets...).Verify(body, h)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Errorf("Verify = %v, want %v", err, tc.wantErr)
			}
		})
	}

	// After the rotation the sender drops the old secret; a receiver that
	// still holds both accepts.
	h2 := mustSigner(t, newS).Headers("evt_2", time.Now(), body)
	if err := mustVerifier(t, oldS, newS).Verify(body, h2); err != nil {
		t.Errorf("Verify(new-only signature) with both secrets: %v", err)
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	sec := newSecret(t)
	signer := mustSigner(t, sec)
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"result":"match"}`)

	cases := []struct {
		name      string
		signedAt  time.Time
		tolerance time.Duration
		edit      func(h http.Header, body []byte) []byte
		wantErr   error
		wantLib   error // the library's error, also wrapped
	}{
		{name: "valid"},
		{name: "four minutes old", signedAt: now.Add(-4 * time.Minute)},
		{name: "four minutes ahead", signedAt: now.Add(4 * time.Minute)},
		{name: "tampered body", edit: func(_ http.Header, b []byte) []byte {
			return []byte(`{"result":"mismatch"}`)
		}, wantErr: ErrBadSignature, wantLib: standardwebhooks.ErrNoMatchingSignature},
		{name: "body with one more byte", edit: func(_ http.Header, b []byte) []byte {
			return append(b, ' ')
		}, wantErr: ErrBadSignature},
		{name: "tampered id", edit: func(h http.Header, b []byte) []byte {
			h.Set("webhook-id", "evt_other")
			return b
		}, wantErr: ErrBadSignature},
		{name: "tampered timestamp", edit: func(h http.Header, b []byte) []byte {
			h.Set("webhook-timestamp", strconv.FormatInt(now.Unix()+1, 10))
			return b
		}, wantErr: ErrBadSignature},
		{name: "stale", signedAt: now.Add(-6 * time.Minute),
			wantErr: ErrTimestamp, wantLib: standardwebhooks.ErrMessageTooOld},
		{name: "from the future", signedAt: now.Add(6 * time.Minute),
			wantErr: ErrTimestamp, wantLib: standardwebhooks.ErrMessageTooNew},
		{name: "stale for a tighter tolerance", signedAt: now.Add(-2 * time.Minute),
			tolerance: time.Minute, wantErr: ErrTimestamp},
		{name: "within a wider tolerance", signedAt: now.Add(-time.Hour), tolerance: 2 * time.Hour},
		{name: "malformed timestamp", edit: func(h http.Header, b []byte) []byte {
			h.Set("webhook-timestamp", "17e8")
			return b
		}, wantErr: ErrTimestamp, wantLib: standardwebhooks.ErrInvalidHeaders},
		{name: "missing id", edit: func(h http.Header, b []byte) []byte {
			h.Del("webhook-id")
			return b
		}, wantErr: ErrMissingHeaders, wantLib: standardwebhooks.ErrRequiredHeaders},
		{name: "missing timestamp", edit: func(h http.Header, b []byte) []byte {
			h.Del("webhook-timestamp")
			return b
		}, wantErr: ErrMissingHeaders},
		{name: "missing signature", edit: func(h http.Header, b []byte) []byte {
			h.Del("webhook-signature")
			return b
		}, wantErr: ErrMissingHeaders},
		{name: "other version", edit: func(h http.Header, b []byte) []byte {
			h.Set("webhook-signature", "v2,"+strings.TrimPrefix(h.Get("webhook-signature"), "v1,"))
			return b
		}, wantErr: ErrBadSignature},
		{name: "valid among garbage", edit: func(h http.Header, b []byte) []byte {
			h.Set("webhook-signature", "v1,AAAA nonsense v1a,xyz "+h.Get("webhook-signature"))
			return b
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			at := tc.signedAt
			if at.IsZero() {
				at = now
			}
			h := signer.Headers("evt_1", at, body)
			b := body
			if tc.edit != nil {
				b = tc.edit(h, append([]byte(nil), body...))
			}
			v := mustVerifier(t, sec)
			v.now = func() time.Time { return now }
			if tc.tolerance != 0 {
				v.Tolerance = tc.tolerance
			}

			err := v.Verify(b, h)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Verify = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Verify = %v, want %v", err, tc.wantErr)
			}
			if tc.wantLib != nil && !errors.Is(err, tc.wantLib) {
				t.Errorf("Verify = %v, want it to wrap the library's %v", err, tc.wantLib)
			}
			if strings.Contains(err.Error(), "result") {
				t.Errorf("error %q repeats the body", err)
			}
		})
	}
}

func TestParseSecret(t *testing.T) {
	t.Parallel()
	b64 := func(n int) string {
		return base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", n)))
	}
	cases := []struct {
		name string
		in   string
		ok   bool
	}{
		{"spec example (24 bytes)", vectorSecret, true},
		{"64 bytes", "whsec_" + b64(64), true},
		{"trailing newline from a file", vectorSecret + "\n", true},
		{"no prefix", strings.TrimPrefix(vectorSecret, "whsec_"), false},
		{"other prefix", "sk_" + b64(32), false},
		{"empty", "", false},
		{"prefix only", "whsec_", false},
		{"23 bytes", "whsec_" + b64(23), false},
		{"65 bytes", "whsec_" + b64(65), false},
		{"not base64", "whsec_!!!!notbase64!!!!notbase64!!!!", false},
		{"url-safe alphabet", "whsec_" + base64.URLEncoding.EncodeToString([]byte(strings.Repeat("\xfb", 24))), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseSecret(tc.in)
			if tc.ok {
				if err != nil {
					t.Fatalf("ParseSecret = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidSecret) {
				t.Fatalf("ParseSecret = %v, want ErrInvalidSecret", err)
			}
			if enc := strings.TrimPrefix(tc.in, "whsec_"); len(enc) > 4 && strings.Contains(err.Error(), enc) {
				t.Errorf("error %q repeats the secret", err)
			}
		})
	}
}

func TestGenerateSecret(t *testing.T) {
	t.Parallel()
	a, err := GenerateSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, err := GenerateSecret()
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatal("two generated secrets are equal")
	}
	s := mustSecret(t, a)
	if n := len(s.key); n < 24 || n > 32 {
		t.Errorf("generated secret has %d bytes, want 24 to 32", n)
	}
}

func TestSecretNeverPrints(t *testing.T) {
	t.Parallel()
	s := mustSecret(t, vectorSecret)
	enc := strings.TrimPrefix(vectorSecret, "whsec_")
	type config struct {
		Secret  Secret
		Secrets []Secret
	}
	cfg := config{Secret: s, Secrets: []Secret{s}}
	for _, format := range []string{"%v", "%s", "%+v", "%#v", "%q"} {
		for _, arg := range []any{s, cfg, &cfg} {
			got := fmt.Sprintf(format, arg)
			if strings.Contains(got, enc) || strings.Contains(got, string(s.key)) ||
				strings.Contains(got, fmt.Sprint(s.key)) {
				t.Errorf("Sprintf(%q, %T) = %q leaks the secret", format, arg, got)
			}
		}
	}
	if got := s.String(); got != "whsec_****" {
		t.Errorf("String() = %q", got)
	}
}

func TestNewSignerVerifierValidate(t *testing.T) {
	t.Parallel()
	if _, err := NewSigner(); err == nil {
		t.Error("NewSigner() with no secret: want an error")
	}
	if _, err := NewSigner(Secret{}); err == nil {
		t.Error("NewSigner(zero Secret): want an error")
	}
	if _, err := NewVerifier(); err == nil {
		t.Error("NewVerifier() with no secret: want an error")
	}
	if _, err := NewVerifier(newSecret(t), Secret{}); err == nil {
		t.Error("NewVerifier(..., zero Secret): want an error")
	}
}

// FuzzVerify feeds arbitrary headers and bodies to Verify: it must not
// panic, must fail with one of its sentinels, and may succeed only when the
// header really carries the HMAC of id.timestamp.body under the secret,
// computed here independently of the library, within the tolerance.
func FuzzVerify(f *testing.F) {
	sec := mustSecret(f, vectorSecret)
	now := time.Unix(vectorTS, 0)
	f.Add([]byte(vectorBody), vectorID, strconv.Itoa(vectorTS), vectorSig)
	f.Add([]byte(vectorBody), vectorID, strconv.Itoa(vectorTS-1), vectorSig)
	f.Add([]byte(vectorBody), vectorID, "+1614265330", "v1,"+strings.Repeat("A", 44))
	f.Add([]byte{}, "", "", "")
	f.Add([]byte("x"), "id", "-9223372036854775808", "v1, v1,, ,v1 v1,,,")
	f.Add([]byte("x"), "id.1", "9223372036854775807", "v1a,abc")

	mac := hmac.New(sha256.New, sec.key)
	v := mustVerifier(f, sec)
	v.now = func() time.Time { return now }

	f.Fuzz(func(t *testing.T, body []byte, id, ts, sig string) {
		h := http.Header{}
		h.Set("webhook-id", id)
		h.Set("webhook-timestamp", ts)
		h.Set("webhook-signature", sig)
		err := v.Verify(body, h)
		if err != nil {
			if !errors.Is(err, ErrMissingHeaders) && !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrTimestamp) {
				t.Fatalf("Verify = %v, not one of the sentinels", err)
			}
			return
		}

		unix, perr := strconv.ParseInt(ts, 10, 64)
		if perr != nil {
			t.Fatalf("Verify accepted timestamp %q, which does not parse", ts)
		}
		if d := now.Sub(time.Unix(unix, 0)).Abs(); d > DefaultTolerance {
			t.Fatalf("Verify accepted a timestamp %s away", d)
		}
		mac.Reset()
		fmt.Fprintf(mac, "%s.%d.%s", id, unix, body)
		want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
		found := false
		for _, s := range strings.Split(sig, " ") {
			// The library reads the part before a second comma, if any.
			parts := strings.Split(s, ",")
			if len(parts) >= 2 && parts[0]+","+parts[1] == want {
				found = true
			}
		}
		if !found {
			t.Fatalf("Verify accepted a signature header without the right HMAC: %q", sig)
		}
	})
}

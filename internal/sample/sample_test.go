package sample

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"io"
	"iter"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"go.uber.org/goleak"

	"github.com/realname-io/realname/internal/identity"
	"github.com/realname-io/realname/internal/sandbox"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var actions = []string{sandbox.ActionIDCardAuth, sandbox.ActionMobileAuth3, sandbox.ActionBankCard3Auth, sandbox.ActionBankCardAuth4}

func collect(seq iter.Seq[Entry]) []Entry { return slices.Collect(seq) }

func TestDeterminism(t *testing.T) {
	t.Parallel()
	writers := []struct {
		name  string
		write func(io.Writer, iter.Seq[Entry]) error
	}{
		{"csv", WriteCSV},
		{"jsonl", WriteJSONL},
		{"fixture", WriteFixture},
	}
	for _, w := range writers {
		t.Run(w.name, func(t *testing.T) {
			t.Parallel()
			out := func(n int, seed int64) []byte {
				var b bytes.Buffer
				if err := w.write(&b, Generate(n, seed)); err != nil {
					t.Fatal(err)
				}
				return b.Bytes()
			}
			a, b := out(2000, 42), out(2000, 42)
			if !bytes.Equal(a, b) {
				t.Error("same seed, different bytes")
			}
			if bytes.Equal(a, out(2000, 43)) {
				t.Error("seeds 42 and 43 gave the same bytes")
			}
			// A shorter run is a prefix of a longer one.
			if short := out(500, 42); !bytes.HasPrefix(a, short) {
				t.Error("Generate(500) is not a prefix of Generate(2000)")
			}
		})
	}
}

var (
	phoneRE = regexp.MustCompile(`^1[3-9][0-9]{9}$`)
	cardRE  = regexp.MustCompile(`^62[0-9]{14}([0-9]{3})?$`)
)

func TestRecordsAreValid(t *testing.T) {
	t.Parallel()
	const n = 10000
	orders := map[string]bool{}
	ids := map[string]bool{}
	minority := 0
	for e := range Generate(n, 7) {
		if orders[e.OrderNo] {
			t.Fatalf("orderNo %s repeats", e.OrderNo)
		}
		orders[e.OrderNo] = true
		if ids[e.IDNumber] {
			t.Fatalf("record %s: ID number repeats", e.OrderNo)
		}
		ids[e.IDNumber] = true

		id := e.IDNumber
		if len(id) != 18 || identity.IDCheckDigit(id[:17]) != id[17] {
			t.Fatalf("record %s: invalid ID check digit", e.OrderNo)
		}
		if !slices.Contains(regions[:], id[:6]) {
			t.Fatalf("record %s: unknown region", e.OrderNo)
		}
		birth, err := time.Parse("20060102", id[6:14])
		if err != nil || birth.Year() < 1950 || birth.Year() > 2005 {
			t.Fatalf("record %s: birth date out of range", e.OrderNo)
		}
		if !identity.LuhnValid(e.BankCard) || !cardRE.MatchString(e.BankCard) {
			t.Fatalf("record %s: bad card number", e.OrderNo)
		}
		if !phoneRE.MatchString(e.Phone) {
			t.Fatalf("record %s: bad phone number", e.OrderNo)
		}
		runes := utf8.RuneCountInString(e.Name)
		if !utf8.ValidString(e.Name) || runes < 2 || runes > 20 {
			t.Fatalf("record %s: name of %d runes", e.OrderNo, runes)
		}
		if strings.Contains(e.Name, "·") {
			minority++
		} else if runes > 4 {
			t.Fatalf("record %s: Han name of %d runes", e.OrderNo, runes)
		}
	}
	if len(orders) != n {
		t.Fatalf("%d records, want %d", len(orders), n)
	}
	if share := float64(minority) / n; share < 0.01 || share > 0.03 {
		t.Errorf("minority-style names %.3f, want about 0.02", share)
	}
	if o := collect(Generate(3, -5)); o[0].OrderNo != "S-5-00000001" || o[2].OrderNo != "S-5-00000003" {
		t.Errorf("orderNos %s…%s", o[0].OrderNo, o[2].OrderNo)
	}
	if len(collect(Generate(0, 1))) != 0 || len(collect(Generate(-3, 1))) != 0 {
		t.Error("Generate(n ≤ 0) yields entries")
	}
}

func TestBirthRange(t *testing.T) {
	t.Parallel()
	end := time.Date(2006, 1, 1, 0, 0, 0, 0, time.UTC)
	if days := int(end.Sub(birthFirst) / (24 * time.Hour)); days != birthDays {
		t.Errorf("1950-01-01 to 2005-12-31 is %d days, birthDays is %d", days, birthDays)
	}
	// The last slot is the last day.
	g := &generator{mult: 1, offs: MaxRecords - 1}
	if id := g.idNumber(1); id[6:14] != "20051231" {
		t.Errorf("last slot born %s", id[6:14])
	}
}

func TestIDsUniqueAtScale(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	t.Parallel()
	g := newGenerator(99)
	seen := make(map[string]struct{}, 300_000)
	for i := 1; i <= 300_000; i++ {
		id := g.idNumber(i)
		if _, dup := seen[id]; dup {
			t.Fatalf("ID of record %d repeats", i)
		}
		seen[id] = struct{}{}
	}
}

func TestOutcomeMix(t *testing.T) {
	t.Parallel()
	const n = 10000
	want := map[Outcome]float64{
		OutcomeMatch:           0.85,
		OutcomeNameMismatch:    0.06,
		OutcomeMobileMismatch:  0.03,
		OutcomeInvalidCard:     0.02,
		OutcomeCardUnusable:    0.02,
		OutcomeDataCheckFailed: 0.02,
	}
	for _, seed := range []int64{1, 2, 3} {
		counts := map[Outcome]int{}
		for e := range Generate(n, seed) {
			counts[e.Outcome]++
			checkCodes(t, e)
		}
		for o, p := range want {
			got := float64(counts[o]) / n
			// Four standard deviations of a binomial share.
			if tol := 4 * math.Sqrt(p*(1-p)/n); math.Abs(got-p) > tol {
				t.Errorf("seed %d: %s share %.4f, want %.2f ± %.4f", seed, o, got, p, tol)
			}
		}
	}
}

// checkCodes checks that an entry's authCodes fit its outcome.
func checkCodes(t *testing.T, e Entry) {
	t.Helper()
	c := e.AuthCodes
	if len(c) != 4 {
		t.Fatalf("%s: %d authCodes", e.OrderNo, len(c))
	}
	idc, mob, c3, c4 := c[sandbox.ActionIDCardAuth], c[sandbox.ActionMobileAuth3], c[sandbox.ActionBankCard3Auth], c[sandbox.ActionBankCardAuth4]
	ok := false
	switch e.Outcome {
	case OutcomeMatch:
		ok = idc == "00" && mob == "00" && c3 == "00" && c4 == "00"
	case OutcomeNameMismatch:
		ok = idc == "01" && mob == "01" && c3 == "01" && c4 == "01"
	case OutcomeMobileMismatch:
		ok = idc == "00" && mob == "98" && c3 == "00" && c4 == "06"
	case OutcomeInvalidCard:
		ok = idc == "00" && mob == "00" && c3 == c4 && slices.Contains(invalidCardCodes, c3)
	case OutcomeCardUnusable:
		ok = idc == "00" && mob == "00" && c3 == c4 && slices.Contains(unusableCardCodes, c3)
	case OutcomeDataCheckFailed:
		ok = idc == "05" && mob == "05" && c3 == "05" && c4 == "05"
	}
	if !ok {
		t.Fatalf("%s: outcome %s with authCodes %v", e.OrderNo, e.Outcome, c)
	}
	for _, code := range c {
		if sandbox.AuthMessage(code) == "" {
			t.Fatalf("%s: authCode %s is not in the guide", e.OrderNo, code)
		}
	}
}

func TestWriteCSV(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	entries := collect(Generate(300, 5))
	if err := WriteCSV(&b, slices.Values(entries)); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(rows[0], ","); got != "orderNo,name,idNumber,phoneNumber,bankCardNumber" {
		t.Errorf("header %s", got)
	}
	if len(rows) != 301 {
		t.Fatalf("%d rows", len(rows))
	}
	for i, e := range entries {
		if want := []string{e.OrderNo, e.Name, e.IDNumber, e.Phone, e.BankCard}; !slices.Equal(rows[i+1], want) {
			t.Fatalf("row %d = %v, want %v", i+1, rows[i+1], want)
		}
	}
}

func TestWriteJSONL(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	entries := collect(Generate(300, 5))
	if err := WriteJSONL(&b, slices.Values(entries)); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 300 {
		t.Fatalf("%d lines", len(lines))
	}
	for i, line := range lines {
		var m map[string]string
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		e := entries[i]
		want := map[string]string{"orderNo": e.OrderNo, "name": e.Name, "idNumber": e.IDNumber, "phoneNumber": e.Phone, "bankCardNumber": e.BankCard}
		if len(m) != len(want) {
			t.Fatalf("line %d has fields %v", i+1, m)
		}
		for k, v := range want {
			if m[k] != v {
				t.Fatalf("line %d: %s = %q, want %q", i+1, k, m[k], v)
			}
		}
	}
}

// failWriter fails after a few bytes.
type failWriter struct{ left int }

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.left {
		n := w.left
		w.left = 0
		return n, io.ErrShortWrite
	}
	w.left -= len(p)
	return len(p), nil
}

func TestWriteErrors(t *testing.T) {
	t.Parallel()
	for name, write := range map[string]func(io.Writer, iter.Seq[Entry]) error{"csv": WriteCSV, "jsonl": WriteJSONL, "fixture": WriteFixture} {
		if err := write(&failWriter{left: 10_000}, Generate(10_000, 1)); err == nil {
			t.Errorf("%s: no error from a failing writer", name)
		}
	}
}

// TestFixtureMatchesSandbox loads the generated fixture into the sandbox and
// checks it answers every record's scripted authCodes: through Lookup for all
// records, and over HTTP for a sample of them.
func TestFixtureMatchesSandbox(t *testing.T) {
	t.Parallel()
	const n = 3000
	var b bytes.Buffer
	if err := WriteFixture(&b, Generate(n, 11)); err != nil {
		t.Fatal(err)
	}
	fx, err := sandbox.LoadFixture(&b)
	if err != nil {
		t.Fatal(err)
	}
	if fx.Len() != n {
		t.Fatalf("fixture holds %d identities, want %d", fx.Len(), n)
	}
	for e := range Generate(n, 11) {
		p := sandbox.Params{Name: e.Name, IDNumber: e.IDNumber, Phone: e.Phone, BankCard: e.BankCard}
		for _, a := range actions {
			if got, ok := fx.Lookup(a, p); !ok || got != e.AuthCodes[a] {
				t.Fatalf("%s %s: Lookup = %q, %v; want %s", e.OrderNo, a, got, ok, e.AuthCodes[a])
			}
		}
	}

	const id, key = "AKIDsample", "sample-key"
	srv, err := sandbox.New(sandbox.Config{Credentials: map[string]string{id: key}, Fixture: fx})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	host := strings.TrimPrefix(ts.URL, "http://")
	nonce := 0
	for e := range Generate(200, 11) {
		for _, a := range actions {
			nonce++
			params := map[string]string{
				"Action": a, "SecretId": id, "Nonce": strconv.Itoa(nonce), "Timestamp": strconv.FormatInt(time.Now().Unix(), 10),
				"orderNo": e.OrderNo, "name": e.Name, "idNumber": e.IDNumber, "phoneNumber": e.Phone, "bankCardNumber": e.BankCard,
			}
			params["Signature"] = sign("POST", host, params, key)
			form := url.Values{}
			for k, v := range params {
				form.Set(k, v)
			}
			resp, err := client.PostForm(ts.URL+"/v2/index.php", form)
			if err != nil {
				t.Fatal(err)
			}
			var r struct {
				Code       int    `json:"code"`
				Message    string `json:"message"`
				BspFivBody struct {
					AuthCode string `json:"authCode"`
				} `json:"bspFivBody"`
			}
			err = json.NewDecoder(resp.Body).Decode(&r)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if r.Code != 0 || r.BspFivBody.AuthCode != e.AuthCodes[a] {
				t.Fatalf("%s %s: code %d %q authCode %s, want %s", e.OrderNo, a, r.Code, r.Message, r.BspFivBody.AuthCode, e.AuthCodes[a])
			}
		}
	}
	if st := srv.Stats(); st.Billed != 800 {
		t.Errorf("billed %d, want 800", st.Billed)
	}
}

// sign is a minimal v2 HmacSHA1 signer for the test (all parameters here have
// keys without "_").
func sign(method, host string, params map[string]string, key string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + params[k]
	}
	mac := hmac.New(sha1.New, []byte(key))
	mac.Write([]byte(method + host + "/v2/index.php?" + strings.Join(parts, "&")))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func BenchmarkWriteCSV(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if err := WriteCSV(io.Discard, Generate(10_000, 1)); err != nil {
			b.Fatal(err)
		}
	}
}

package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestSpecVector(t *testing.T) {
	t.Parallel()
	const (
		secretID = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3gnPhESA"
		key      = "Gu5t9xGARNpq86cd98joQYCN3Cozk1qA"
		wantSrc  = "GETcvm.api.qcloud.com/v2/index.php?Action=DescribeInstances&Nonce=11886&Region=gz&SecretId=AKIDz8krbsJ5yKBZQpn74WFkmLPx3gnPhESA&Timestamp=1465185768&instanceIds.0=ins-09dx96dg&limit=20&offset=0"
		wantSig  = "NSI3UqqD99b/UJb4tbG/xZpRW64="
	)
	params := map[string]string{
		"Action":        "DescribeInstances",
		"Nonce":         "11886",
		"Region":        "gz",
		"SecretId":      secretID,
		"Timestamp":     "1465185768",
		"instanceIds_0": "ins-09dx96dg",
		"limit":         "20",
		"offset":        "0",
	}
	if got := stringToSign("GET", "cvm.api.qcloud.com", "/v2/index.php", params); got != wantSrc {
		t.Errorf("stringToSign =\n%s\nwant\n%s", got, wantSrc)
	}
	if got := testSign("GET", "cvm.api.qcloud.com", "/v2/index.php", params, key, ""); got != wantSig {
		t.Errorf("testSign = %s, want %s", got, wantSig)
	}
	if !signatureValid(hmacSHA1, key, wantSrc, wantSig) {
		t.Error("signatureValid rejects the spec vector")
	}

	// Through HTTP: the signature is accepted (so the answer is about the
	// Action, which the sandbox does not serve) only with the signed Host.
	b := setup(t, Config{
		Credentials: map[string]string{secretID: key},
		Now:         func() time.Time { return time.Unix(1465185768, 0) },
	})
	v := url.Values{"Signature": {wantSig}}
	for k, s := range params {
		v.Set(k, s)
	}
	for _, tc := range []struct {
		host     string
		wantCode int
		wantMsg  string
	}{
		{"cvm.api.qcloud.com", 4000, "Action not supported"},
		{"csec.api.qcloud.com", 4100, "Signature"},
	} {
		req, err := http.NewRequest(http.MethodGet, b.ts.URL+"/v2/index.php?"+v.Encode(), nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = tc.host
		resp, err := b.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var r response
		err = json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if r.Code != tc.wantCode || !strings.Contains(r.Message, tc.wantMsg) {
			t.Errorf("Host %s: code %d %q, want %d containing %q", tc.host, r.Code, r.Message, tc.wantCode, tc.wantMsg)
		}
	}
}

func TestActions(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	for _, action := range actions {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			for _, sm := range []string{"", hmacSHA1, hmacSHA256} {
				t.Run(action+"/"+method+"/"+cmpOr(sm, "default"), func(t *testing.T) {
					biz := business(action, "order-"+action+method+sm, "阿依古丽·买买提", aliceID, "13800138000", aliceCard)
					got := b.answer(t, call{method: method, action: action, business: biz, sigMethod: sm})
					want := Expected(action, Params{Name: "阿依古丽·买买提", IDNumber: aliceID, Phone: "13800138000", BankCard: aliceCard})
					if got != want {
						t.Errorf("authCode = %s, want Expected's %s", got, want)
					}
				})
			}
		}
	}
}

func TestResponseShape(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	resp, err := b.send(call{action: ActionIDCardAuth, business: business(ActionIDCardAuth, "o1", "张三", aliceID, "", "")})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"code", "codeDesc", "message", "bspFivBody"} {
		if _, ok := m[k]; !ok {
			t.Errorf("success response lacks %q: %v", k, m)
		}
	}
	if m["codeDesc"] != "Success" || m["message"] != "No Error" || m["code"] != 0.0 {
		t.Errorf("success response = %v", m)
	}

	resp, err = b.send(call{action: ActionIDCardAuth, secretID: "AKIDunknown", business: business(ActionIDCardAuth, "o1", "张三", aliceID, "", "")})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	m = nil
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["bspFivBody"]; ok || m["code"] != 4104.0 || m["codeDesc"] != "AuthFailure" || resp.StatusCode != http.StatusOK {
		t.Errorf("error response = HTTP %d %v", resp.StatusCode, m)
	}
}

func TestRefusals(t *testing.T) {
	t.Parallel()
	idBiz := func() map[string]string { return business(ActionIDCardAuth, "o-1", "张三", aliceID, "", "") }
	badCheck := aliceID[:17] + string("0123456789X"[(strings.IndexByte("0123456789X", aliceID[17])+1)%11])
	cases := []struct {
		name     string
		c        call
		wantCode int
		wantMsg  string // substring of the message
	}{
		{"tampered value", call{edit: func(v url.Values) { v.Set("name", "李四") }}, 4100, "Signature"},
		{"wrong key", call{secretKey: "not-the-key"}, 4100, "Signature"},
		{"signature not base64", call{edit: func(v url.Values) { v.Set("Signature", "abc def=") }}, 4100, "URL 编码"},
		{"signed for HmacSHA256, sent as HmacSHA1", call{sigMethod: hmacSHA256, edit: func(v url.Values) { v.Del("SignatureMethod") }}, 4100, "Signature"},
		{"unknown SecretId", call{secretID: "AKIDunknown"}, 4104, "SecretId"},
		{"missing Nonce", call{edit: func(v url.Values) { v.Del("Nonce") }}, 4000, "Nonce"},
		{"zero Nonce", call{nonce: "0"}, 4000, "Nonce"},
		{"negative Nonce", call{nonce: "-5"}, 4000, "Nonce"},
		{"Timestamp not a number", call{timestamp: "soon"}, 4000, "Timestamp"},
		{"missing Signature", call{edit: func(v url.Values) { v.Del("Signature") }}, 4000, "Signature"},
		{"missing SecretId", call{edit: func(v url.Values) { v.Del("SecretId") }}, 4000, "SecretId"},
		{"missing Action", call{edit: func(v url.Values) { v.Del("Action") }}, 4000, "Action"},
		{"unknown SignatureMethod", call{sigMethod: "HmacMD5"}, 4000, "SignatureMethod"},
		{"stale Timestamp", call{timestamp: strconv.FormatInt(testEpoch.Add(-2*time.Hour-time.Second).Unix(), 10)}, 4500, "Timestamp"},
		{"future Timestamp", call{timestamp: strconv.FormatInt(testEpoch.Add(2*time.Hour+time.Second).Unix(), 10)}, 4500, "Timestamp"},
		{"huge Timestamp", call{timestamp: "18446744073709551615"}, 4500, "Timestamp"},
		{"edge of window", call{timestamp: strconv.FormatInt(testEpoch.Add(-2*time.Hour).Unix(), 10)}, 0, ""},
		{"unknown Action", call{action: "BspFaceAuth"}, 4000, "Action not supported"},
		{"duplicate parameter", call{edit: func(v url.Values) { v.Add("name", "李四") }}, 4000, "duplicate parameter"},
		{"keys colliding after _ to .", call{edit: func(v url.Values) { v.Set("a_b", "1"); v.Set("a.b", "2") }}, 4000, "duplicate parameter"},
		{"bad ID check digit", call{business: map[string]string{"orderNo": "o", "name": "张三", "idNumber": badCheck}}, 4000, "idNumber"},
		{"short ID", call{business: map[string]string{"orderNo": "o", "name": "张三", "idNumber": "1101011990"}}, 4000, "idNumber"},
		{"orderNo too long", call{business: map[string]string{"orderNo": strings.Repeat("o", 65), "name": "张三", "idNumber": aliceID}}, 4000, "orderNo"},
		{"control character in name", call{business: map[string]string{"orderNo": "o", "name": "张\x00三", "idNumber": aliceID}}, 4000, "name"},
		{"phone malformed", call{action: ActionMobileAuth3, business: business(ActionMobileAuth3, "o", "张三", aliceID, "2380013800", "")}, 4000, "phoneNumber"},
		{"card malformed", call{action: ActionBankCard3Auth, business: business(ActionBankCard3Auth, "o", "张三", aliceID, "", "6222-0000")}, 4000, "bankCardNumber"},
	}
	// Every business parameter of every action, missing.
	for _, action := range actions {
		for name := range business(action, "o", "张三", aliceID, "13800138000", aliceCard) {
			cases = append(cases, struct {
				name     string
				c        call
				wantCode int
				wantMsg  string
			}{"missing " + name + " for " + action, call{action: action, business: without(business(action, "o", "张三", aliceID, "13800138000", aliceCard), name)}, 4000, name})
		}
	}
	b := setup(t, Config{})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := tc.c
			if c.action == "" {
				c.action = ActionIDCardAuth
			}
			if c.business == nil {
				c.business = idBiz()
			}
			status, r := b.do(t, c)
			if status != http.StatusOK {
				t.Fatalf("HTTP %d, want 200", status)
			}
			if r.Code != tc.wantCode || !strings.Contains(r.Message, tc.wantMsg) {
				t.Fatalf("code %d %q, want %d containing %q", r.Code, r.Message, tc.wantCode, tc.wantMsg)
			}
			if r.Code != 0 && r.BspFivBody != nil {
				t.Errorf("gateway error carries bspFivBody")
			}
			if r.Code != 0 && codeDesc(r.Code) == "UnknownError" {
				t.Errorf("code %d has no codeDesc", r.Code)
			}
			// Messages never echo personal data.
			for _, v := range c.business {
				if len(v) >= 4 && strings.Contains(r.Message, v) {
					t.Errorf("message %q quotes a business value", r.Message)
				}
			}
		})
	}
}

func TestLuhnInvalidCard(t *testing.T) {
	t.Parallel()
	fx := loadFixture(t, `{"name":"张三","idNumber":"`+aliceID+`","phoneNumber":"13800138000","bankCardNumber":"`+aliceCard+`","authCodes":{"BspBankCard3Auth":"00","BspBankCardAuth4":"00"}}`)
	b := setup(t, Config{Fixture: fx})
	bad := aliceCard[:len(aliceCard)-1] + string('0'+(aliceCard[len(aliceCard)-1]-'0'+1)%10)
	for _, action := range []string{ActionBankCard3Auth, ActionBankCardAuth4} {
		if got := b.answer(t, call{action: action, business: business(action, "o", "张三", aliceID, "13800138000", bad)}); got != "12" {
			t.Errorf("%s with a Luhn-invalid card: authCode %s, want 12", action, got)
		}
		if got := Expected(action, Params{Name: "x", IDNumber: aliceID, Phone: "13800138000", BankCard: bad}); got != "12" {
			t.Errorf("Expected(%s) with a Luhn-invalid card = %s, want 12", action, got)
		}
	}
}

func TestMethodsAndPaths(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/", http.StatusNotFound},
		{http.MethodGet, "/v2/other.php", http.StatusNotFound},
		{http.MethodGet, "/v2/index.php/", http.StatusNotFound},
		{http.MethodPut, "/v2/index.php", http.StatusMethodNotAllowed},
		{http.MethodPost, "/sandbox/stats", http.StatusMethodNotAllowed},
		{http.MethodGet, "/sandbox/reset", http.StatusMethodNotAllowed},
	} {
		req, _ := http.NewRequest(tc.method, b.ts.URL+tc.path, nil)
		resp, err := b.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s: HTTP %d, want %d", tc.method, tc.path, resp.StatusCode, tc.want)
		}
	}

	// A POST body that is not a form.
	req, _ := http.NewRequest(http.MethodPost, b.ts.URL+"/v2/index.php", strings.NewReader(`{"Action":"BspIdCardAuth"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var r response
	json.NewDecoder(resp.Body).Decode(&r)
	resp.Body.Close()
	if r.Code != 4000 || !strings.Contains(r.Message, "x-www-form-urlencoded") {
		t.Errorf("JSON POST: code %d %q, want 4000 about the content type", r.Code, r.Message)
	}
}

func TestReplay(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	biz := business(ActionIDCardAuth, "o-replay", "张三", aliceID, "", "")
	first := call{action: ActionIDCardAuth, business: biz, nonce: "424242"}
	if _, r := b.do(t, first); r.Code != 0 {
		t.Fatalf("first call: code %d %q", r.Code, r.Message)
	}
	if _, r := b.do(t, first); r.Code != 4500 || !strings.Contains(r.Message, "Nonce") {
		t.Fatalf("replayed Nonce: code %d %q, want 4500", r.Code, r.Message)
	}
	// Nonces are per SecretId.
	if _, r := b.do(t, call{action: ActionIDCardAuth, business: biz, nonce: "424242", secretID: otherID}); r.Code != 0 {
		t.Fatalf("same Nonce, other SecretId: code %d %q, want 0", r.Code, r.Message)
	}
	// Once the window has passed, the Nonce is forgotten.
	b.clock.Add(2*time.Hour + time.Second)
	if _, r := b.do(t, first); r.Code != 0 {
		t.Fatalf("Nonce reused after the window: code %d %q, want 0", r.Code, r.Message)
	}
	// A refused request (bad signature) does not use up its Nonce.
	bad := call{action: ActionIDCardAuth, business: biz, nonce: "777", secretKey: "wrong"}
	if _, r := b.do(t, bad); r.Code != 4100 {
		t.Fatalf("bad signature: code %d", r.Code)
	}
	if _, r := b.do(t, call{action: ActionIDCardAuth, business: biz, nonce: "777"}); r.Code != 0 {
		t.Fatalf("Nonce of a refused request: code %d %q, want 0", r.Code, r.Message)
	}
}

func TestNonceCache(t *testing.T) {
	t.Parallel()
	t0 := testEpoch
	c := newNonceCache(time.Hour, t0)
	k := nonceKey{"id", 1}
	steps := []struct {
		at   time.Duration
		key  nonceKey
		want bool
	}{
		{0, k, false},
		{30 * time.Minute, k, true},
		{30 * time.Minute, nonceKey{"other", 1}, false},
		{59 * time.Minute, k, true},
		{60 * time.Minute, k, false},  // remembered for exactly the window
		{90 * time.Minute, k, true},   // re-recorded at 60m
		{121 * time.Minute, k, false}, // 61m after its last use
		{3 * time.Hour, k, true},
	}
	for _, s := range steps {
		if got := c.use(s.key, t0.Add(s.at)); got != s.want {
			t.Errorf("at %v %v: replayed = %v, want %v", s.at, s.key, got, s.want)
		}
	}
	// Memory is bounded: nonces older than two windows are gone.
	for i := range uint64(1000) {
		c.use(nonceKey{"id", 100 + i}, t0.Add(4*time.Hour))
	}
	c.use(nonceKey{"id", 99}, t0.Add(6*time.Hour+time.Second))
	if n := c.len(); n != 1 {
		t.Errorf("after two windows, %d nonces remembered, want 1", n)
	}
}

func TestQuota(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{Faults: Faults{QuotaRPS: 3}})
	codes := map[int]int{}
	for i := range 5 {
		_, r := b.do(t, call{action: ActionIDCardAuth, business: business(ActionIDCardAuth, "q"+strconv.Itoa(i), "张三", aliceID, "", "")})
		codes[r.Code]++
		if r.Code == 4400 && codeDesc(r.Code) != "RequestLimitExceeded" {
			t.Errorf("4400 codeDesc = %s", codeDesc(r.Code))
		}
	}
	if codes[0] != 3 || codes[4400] != 2 {
		t.Fatalf("codes = %v, want 3 answers and 2 × 4400", codes)
	}
	b.clock.Add(time.Second)
	if _, r := b.do(t, call{action: ActionIDCardAuth, business: business(ActionIDCardAuth, "q-next", "张三", aliceID, "", "")}); r.Code != 0 {
		t.Fatalf("next second: code %d %q", r.Code, r.Message)
	}
	st := b.srv.Stats()
	if st.QuotaRefused != 2 || st.ByAnswer["code:4400"] != 2 || st.Billed != 4 || st.MaxPerSecond != 3 || st.Calls != 6 {
		t.Errorf("stats = %+v", st)
	}
}

func TestStats(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	biz := business(ActionIDCardAuth, "o-same", "张三", aliceID, "", "")
	b.answer(t, call{action: ActionIDCardAuth, business: biz})
	b.answer(t, call{action: ActionIDCardAuth, business: biz, secretID: otherID}) // reuse across SecretIds counts too
	b.answer(t, call{action: ActionMobileAuth3, business: business(ActionMobileAuth3, "o-other", "张三", aliceID, "13800138000", "")})
	b.do(t, call{action: ActionIDCardAuth, business: biz, secretKey: "wrong"})
	b.do(t, call{action: "BspNope", business: biz})

	want := Stats{
		Calls:    5,
		ByAction: map[string]int64{ActionIDCardAuth: 3, ActionMobileAuth3: 1},
		ByAnswer: map[string]int64{
			Expected(ActionIDCardAuth, Params{Name: "张三", IDNumber: aliceID}): 2,
			"code:4100": 1,
			"code:4000": 1,
		},
		Billed:        3,
		OrderNoReused: 1,
		MaxPerSecond:  4, // the 4100 is refused before admission
	}
	want.ByAnswer[Expected(ActionMobileAuth3, Params{Name: "张三", IDNumber: aliceID, Phone: "13800138000"})]++
	want.Providers = newStats().Providers
	want.Providers[ProviderTencentV2] = ProviderStats{
		Calls:          want.Calls,
		ByAction:       want.ByAction,
		ByAnswer:       want.ByAnswer,
		Billed:         want.Billed,
		MaxPerSecond:   want.MaxPerSecond,
		IdentityReused: 1, // the orderNo reused is the same identity
	}
	if got := b.srv.Stats(); !reflect.DeepEqual(got, want) {
		t.Errorf("Stats() = %+v\nwant %+v", got, want)
	}

	resp, err := b.client.Get(b.ts.URL + "/sandbox/stats")
	if err != nil {
		t.Fatal(err)
	}
	var got Stats
	err = json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("GET /sandbox/stats = %+v\nwant %+v", got, want)
	}

	resp, err = b.client.Post(b.ts.URL+"/sandbox/reset", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("POST /sandbox/reset: HTTP %d", resp.StatusCode)
	}
	if got := b.srv.Stats(); !reflect.DeepEqual(got, newStats()) {
		t.Errorf("after reset: %+v", got)
	}
	// The reset forgot the orderNo.
	b.answer(t, call{action: ActionIDCardAuth, business: biz})
	if st := b.srv.Stats(); st.OrderNoReused != 0 || st.Billed != 1 {
		t.Errorf("after reset and one call: %+v", st)
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	creds := map[string]string{"id": "key"}
	cases := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"ok", Config{Credentials: creds}, ""},
		{"no credentials", Config{}, "Credentials"},
		{"empty key", Config{Credentials: map[string]string{"id": ""}}, "Credentials"},
		{"negative window", Config{Credentials: creds, ReplayWindow: -time.Second}, "ReplayWindow"},
		{"rate above 1", Config{Credentials: creds, Faults: Faults{DropRate: 1.5}}, "DropRate"},
		{"negative rate", Config{Credentials: creds, Faults: Faults{CodeRate: -0.1}}, "CodeRate"},
		{"rates sum above 1", Config{Credentials: creds, Faults: Faults{DropRate: 0.6, HTTP5xxRate: 0.6}}, "exceed 1"},
		{"code 0", Config{Credentials: creds, Faults: Faults{CodeRate: 1, Codes: []int{5100, 0}}}, "Codes"},
		{"negative quota", Config{Credentials: creds, Faults: Faults{QuotaRPS: -1}}, "QuotaRPS"},
		{"bad latency", Config{Credentials: creds, Faults: Faults{Latency: Latency{Kind: LatencyUniform, Min: time.Second, Max: time.Millisecond}}}, "min"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(tc.cfg)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("New: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("New: %v, want an error about %s", err, tc.wantErr)
			}
		})
	}
	// A SecretKey never appears in an error.
	_, err := New(Config{Credentials: map[string]string{"": "topsecretkey"}})
	if err == nil || strings.Contains(err.Error(), "topsecretkey") {
		t.Errorf("New with an empty SecretId: %v", err)
	}
}

func TestServeShutdown(t *testing.T) {
	t.Parallel()
	srv, err := New(Config{
		Credentials: map[string]string{testID: testKey},
		Faults:      Faults{TimeoutRate: 1, TimeoutHold: time.Minute},
	})
	if err != nil {
		t.Fatal(err)
	}
	b, stop := serve(t, srv)
	held := make(chan error, 1)
	go func() {
		resp, err := b.send(call{method: http.MethodPost, action: ActionIDCardAuth, business: business(ActionIDCardAuth, "held", "张三", aliceID, "", "")})
		if err == nil {
			resp.Body.Close()
		}
		held <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for srv.Stats().Billed == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the held request never arrived")
		}
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	if err := stop(); err != nil {
		t.Errorf("Serve: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("shutdown took %v despite a held answer", d)
	}
	if err := <-held; err == nil {
		t.Error("the held request got an answer, want a closed connection")
	}
}

func TestListenAndServeBadAddr(t *testing.T) {
	t.Parallel()
	srv, err := New(Config{Credentials: map[string]string{"id": "key"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.ListenAndServe(context.Background(), "256.0.0.1:bad"); err == nil {
		t.Error("ListenAndServe on a bad address succeeded")
	}
}

func TestParseCredentials(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		in      string
		want    map[string]string
		wantErr string
	}{
		{"colon", "AKID1:key1\n", map[string]string{"AKID1": "key1"}, ""},
		{"space and tab", "AKID1 key1\nAKID2\t key2", map[string]string{"AKID1": "key1", "AKID2": "key2"}, ""},
		{"comments and blanks", "# prod-like\n\n  AKID1 : key1  \n#AKID2:key2\n", map[string]string{"AKID1": "key1"}, ""},
		{"empty", "", map[string]string{}, ""},
		{"one field", "AKID1\n", nil, "line 1"},
		{"three fields", "\nAKID1 key1 extra\n", nil, "line 2"},
		{"empty key", "AKID1:\n", nil, "line 1"},
		{"space in key", "AKID1:key 1\n", nil, "line 1"},
		{"duplicate", "AKID1:a\nAKID1:b\n", nil, "line 2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseCredentials(strings.NewReader(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %s", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "key") && strings.Contains(err.Error(), "key1") {
					t.Errorf("error quotes the key: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestAuthMessage(t *testing.T) {
	t.Parallel()
	for code, want := range map[string]string{"00": "认证通过", "01": "姓名校验不通过", "12": "无效卡号", "98": "认证未通过", "42": ""} {
		if got := AuthMessage(code); got != want {
			t.Errorf("AuthMessage(%s) = %q, want %q", code, got, want)
		}
	}
	for _, c := range authCodeList {
		if AuthMessage(c) == "" {
			t.Errorf("authCode %s has no message", c)
		}
	}
}

// without returns m without key.
func without(m map[string]string, key string) map[string]string {
	delete(m, key)
	return m
}

// errorsIsTimeout reports whether err is a client timeout.
func errorsIsTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// readAll drains and closes a response body.
func readAll(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestLogsNoPersonalData(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	srv, err := New(Config{
		Credentials: map[string]string{testID: testKey},
		Logger:      zerolog.New(&logs).Level(zerolog.DebugLevel),
		Faults:      Faults{CodeRate: 0.5, Seed: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	b, stop := serve(t, srv)
	const name, phone = "欧阳娜娜", "13912345678"
	for i, action := range actions {
		biz := business(action, "log-"+strconv.Itoa(i), name, aliceID, phone, aliceCard)
		b.do(t, call{action: action, business: biz})
		b.do(t, call{action: action, business: biz, secretKey: "wrong"})
		b.do(t, call{action: action, business: without(biz, "orderNo")})
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	for _, secret := range []string{name, aliceID, phone, aliceCard, testKey} {
		if strings.Contains(out, secret) {
			t.Errorf("logs contain %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{`"message":"sandbox listening"`, `"order_no":"log-0"`, `"auth_code":`, `"code":4100`, `"message":"sandbox stopped"`} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %s:\n%s", want, out)
		}
	}
}

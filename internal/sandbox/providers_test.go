package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// TestBillingMeter checks the per-provider billing rules and the
// double-billing counters: per provider by identity, across providers, and
// v2's by orderNo.
func TestBillingMeter(t *testing.T) {
	t.Parallel()
	const phone = "13800138000"
	fx := loadFixture(t,
		`{"name":"张三","idNumber":"`+aliceID+`","phoneNumber":"`+phone+`","bankCardNumber":"`+aliceCard+`","authCodes":{"BspIdCardAuth":"00","BspMobileAuth3":"00","BspBankCard3Auth":"03","BspBankCardAuth4":"00"}}`,
		`{"name":"李四","idNumber":"`+bobID+`","phoneNumber":"13912345678","authCodes":{"BspIdCardAuth":"01","BspMobileAuth3":"98"}}`,
	)
	b := setup(t, Config{Fixture: fx})
	aliceV2 := func(orderNo string) call {
		return call{action: ActionIDCardAuth, business: business(ActionIDCardAuth, orderNo, "张三", aliceID, "", "")}
	}
	aliceV3 := tc3Call{action: ActionIDCardVerification, body: tc3Body(ActionIDCardVerification, "张三", aliceID, "", "")}
	aliceRPC := rpcCall{action: ActionID2MetaVerify, business: rpcBusiness(ActionID2MetaVerify, " 张三 ", strings.ToLower(aliceID), "", "", false)}

	// Alice's ID card: v2 twice (two orders), v3 once, Alibaba Cloud twice.
	b.answer(t, aliceV2("o-1"))
	b.answer(t, aliceV2("o-2"))
	b.tc3Result(t, aliceV3)
	b.rpcAnswerOf(t, aliceRPC)
	b.rpcAnswerOf(t, aliceRPC)
	// Bob's ID card: v3 twice, nobody else.
	bobV3 := tc3Call{action: ActionIDCardVerification, body: tc3Body(ActionIDCardVerification, "李四", bobID, "", "")}
	b.tc3Result(t, bobV3)
	b.tc3Result(t, bobV3)
	// Bob's mobile check is another identity (another kind) than his ID
	// card: billed by Alibaba Cloud only.
	b.rpcAnswerOf(t, rpcCall{action: ActionMobile3MetaSimpleVerify, business: rpcBusiness(ActionMobile3MetaSimpleVerify, "李四", bobID, "13912345678", "", false)})
	// Alice's bank card (v2 03, card number wrong): v3 -4 and Alibaba
	// Cloud 3/304 are not billed, v2's 03 is; the identity is billed by one
	// provider only.
	if r := b.tc3Result(t, tc3Call{action: ActionBankCardVerification, body: tc3Body(ActionBankCardVerification, "张三", aliceID, "", aliceCard)}); r != "-4" {
		t.Fatalf("Result %s, want -4", r)
	}
	b.rpcAnswerOf(t, rpcCall{action: ActionBankMetaVerify, business: rpcBusiness(ActionBankMetaVerify, "张三", aliceID, "", aliceCard, false)})
	b.answer(t, call{action: ActionBankCard3Auth, business: business(ActionBankCard3Auth, "o-3", "张三", aliceID, "", aliceCard)})
	// Refused calls are never billed.
	if r := b.tc3(t, tc3Call{action: ActionIDCardVerification, body: tc3Body(ActionIDCardVerification, "张三", aliceID, "", ""), secretKey: "wrong"}); r.errorCode() == "" {
		t.Fatal("a wrong key was accepted")
	}

	st := b.srv.Stats()
	want := map[string]struct{ calls, billed, reused int64 }{
		ProviderTencentV2: {3, 3, 1},
		ProviderTencentV3: {5, 3, 1},
		ProviderAliyun:    {4, 3, 1},
	}
	for p, w := range want {
		ps := st.Providers[p]
		if ps.Calls != w.calls || ps.Billed != w.billed || ps.IdentityReused != w.reused {
			t.Errorf("%s: calls %d billed %d identityReused %d, want %d %d %d", p, ps.Calls, ps.Billed, ps.IdentityReused, w.calls, w.billed, w.reused)
		}
	}
	if st.Calls != 12 || st.Billed != 9 || st.BilledByMoreThanOneProvider != 1 || st.OrderNoReused != 0 {
		t.Errorf("totals: calls %d billed %d crossBilled %d orderNoReused %d, want 12 9 1 0", st.Calls, st.Billed, st.BilledByMoreThanOneProvider, st.OrderNoReused)
	}
	if st.ByAction[ActionIDCardVerification] != 4 || st.ByAction[ActionBankMetaVerify] != 1 || st.ByAction[ActionIDCardAuth] != 2 {
		t.Errorf("ByAction %v", st.ByAction)
	}
	if v3 := st.Providers[ProviderTencentV3].ByAnswer; v3["0"] != 1 || v3["-1"] != 2 || v3["-4"] != 1 || v3["error:AuthFailure.SignatureFailure"] != 1 {
		t.Errorf("v3 ByAnswer %v", v3)
	}
	// The fixture compares names exactly, so " 张三 " mismatches (biz:2),
	// while the meter, which trims, still knows the identity.
	if ali := st.Providers[ProviderAliyun].ByAnswer; ali["biz:2"] != 3 || ali["biz:3/304"] != 1 {
		t.Errorf("aliyun ByAnswer %v", ali)
	}

	// The JSON route serves the same.
	resp, err := b.client.Get(b.ts.URL + "/sandbox/stats")
	if err != nil {
		t.Fatal(err)
	}
	var got Stats
	if err := json.Unmarshal(readAll(t, resp), &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, st) {
		t.Errorf("GET /sandbox/stats = %+v\nwant %+v", got, st)
	}

	// ResetStats forgets the identities.
	b.srv.ResetStats()
	b.tc3Result(t, aliceV3)
	b.rpcAnswerOf(t, aliceRPC)
	if st := b.srv.Stats(); st.BilledByMoreThanOneProvider != 1 || st.Providers[ProviderAliyun].IdentityReused != 0 || st.Billed != 2 {
		t.Errorf("after reset: %+v", st)
	}
}

// outage posts to /sandbox/outage and returns the HTTP status and the
// switches it lists.
func (b *bundle) outage(t *testing.T, query string) (int, map[string]bool) {
	t.Helper()
	resp, err := b.client.Post(b.ts.URL+"/sandbox/outage?"+query, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	var m map[string]bool
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
	}
	return resp.StatusCode, m
}

func TestOutage(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{Outages: []string{ProviderAliyun}})
	v2 := func() call {
		return call{action: ActionIDCardAuth, business: business(ActionIDCardAuth, "o-"+nextNonce(), "张三", aliceID, "", "")}
	}
	v3 := tc3Call{action: ActionIDCardVerification, body: tc3Body(ActionIDCardVerification, "张三", aliceID, "", "")}
	rpc := rpcCall{action: ActionID2MetaVerify, business: rpcBusiness(ActionID2MetaVerify, "张三", aliceID, "", "", false)}

	// Alibaba Cloud starts switched off: 503 with its gateway's JSON.
	if r := b.rpc(t, rpc); r.status != http.StatusServiceUnavailable || r.Code != "ServiceUnavailable" {
		t.Fatalf("aliyun in an outage: HTTP %d %s", r.status, r.Code)
	}
	b.tc3Result(t, v3)
	resp, err := b.client.Get(b.ts.URL + "/sandbox/outage")
	if err != nil {
		t.Fatal(err)
	}
	var listed map[string]bool
	json.Unmarshal(readAll(t, resp), &listed)
	if want := map[string]bool{ProviderTencentV2: false, ProviderTencentV3: false, ProviderAliyun: true}; !reflect.DeepEqual(listed, want) {
		t.Errorf("GET /sandbox/outage = %v, want %v", listed, want)
	}

	// Switch Tencent v3 off: its calls get the load balancer's 503, the
	// others are unaffected.
	if status, m := b.outage(t, "provider=tencent-v3&on=true"); status != http.StatusOK || !m[ProviderTencentV3] {
		t.Fatalf("switching tencent-v3 off: HTTP %d %v", status, m)
	}
	resp, err = b.client.Do(b.tc3Request(t, v3))
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, resp); resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "stgw") {
		t.Errorf("tencent-v3 in an outage: HTTP %d %s", resp.StatusCode, body)
	}
	b.answer(t, v2())

	// The outage answers before the body is read: a body that never ends
	// does not hold the answer back.
	t.Run("before the body", func(t *testing.T) {
		pr, pw := io.Pipe()
		defer pw.Close()
		req := b.tc3Request(t, v3)
		req.Body, req.ContentLength = pr, -1
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := b.client.Do(req.WithContext(ctx))
		if err != nil {
			t.Fatalf("no answer while the body is pending: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("HTTP %d", resp.StatusCode)
		}
	})

	// Switch both back on.
	for _, q := range []string{"provider=tencent-v3&on=false", "provider=aliyun&on=0"} {
		if status, _ := b.outage(t, q); status != http.StatusOK {
			t.Fatalf("%s: HTTP %d", q, status)
		}
	}
	b.tc3Result(t, v3)
	b.rpcAnswerOf(t, rpc)

	// Tencent v2 through the Go method.
	if err := b.srv.SetOutage(ProviderTencentV2, true); err != nil {
		t.Fatal(err)
	}
	if status, _ := b.do(t, v2()); status != http.StatusServiceUnavailable {
		t.Errorf("tencent-v2 in an outage: HTTP %d", status)
	}
	b.srv.SetOutage(ProviderTencentV2, false)
	b.answer(t, v2())

	st := b.srv.Stats()
	if st.OutageRefused != 4 || st.Providers[ProviderTencentV3].OutageRefused != 2 || st.Providers[ProviderAliyun].ByAnswer["outage"] != 1 {
		t.Errorf("outages counted: %+v", st)
	}
	if st.Billed != 5 || st.Providers[ProviderTencentV3].Billed != 2 {
		t.Errorf("billed %d (v3 %d), want 5 (2): outages are not billed", st.Billed, st.Providers[ProviderTencentV3].Billed)
	}

	// Refusals.
	for _, q := range []string{"provider=tencent-v4&on=true", "provider=tencent-v3&on=maybe", "on=true", "provider=aliyun"} {
		if status, _ := b.outage(t, q); status != http.StatusBadRequest {
			t.Errorf("%s: HTTP %d, want 400", q, status)
		}
	}
	req, _ := http.NewRequest(http.MethodDelete, b.ts.URL+"/sandbox/outage", nil)
	if resp, err := b.client.Do(req); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("DELETE /sandbox/outage: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if err := b.srv.SetOutage("tencent", true); err == nil {
		t.Error("SetOutage accepts an unknown provider")
	}
	if _, err := New(Config{Credentials: map[string]string{"id": "key"}, Outages: []string{"alibaba"}}); err == nil || !strings.Contains(err.Error(), "Outages") {
		t.Errorf("New with an unknown outage: %v", err)
	}
}

func TestProviderFaults(t *testing.T) {
	t.Parallel()
	v3 := func(i int) tc3Call {
		return tc3Call{action: ActionIDCardVerification, body: tc3Body(ActionIDCardVerification, fmt.Sprint("张", i), aliceID, "", "")}
	}
	rpc := func(i int) rpcCall {
		return rpcCall{action: ActionID2MetaVerify, business: rpcBusiness(ActionID2MetaVerify, fmt.Sprint("张", i), aliceID, "", "", false)}
	}
	t.Run("v3 codes", func(t *testing.T) {
		t.Parallel()
		// v2's faults do not reach v3.
		b := setup(t, Config{TencentV3Faults: Faults{CodeRate: 1}, Faults: Faults{DropRate: 1}})
		seen := map[string]bool{}
		for i := range 30 {
			seen[b.tc3(t, v3(i)).errorCode()] = true
		}
		if !reflect.DeepEqual(seen, map[string]bool{"InternalError": true, "FailedOperation.UnKnown": true}) {
			t.Errorf("codes %v", seen)
		}
		if st := b.srv.Stats(); st.Billed != 0 || st.ByAnswer["error:InternalError"] == 0 {
			t.Errorf("stats %+v", st)
		}
	})
	t.Run("aliyun codes", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{AliyunFaults: Faults{CodeRate: 1}})
		seen := map[string]bool{}
		for i := range 30 {
			r := b.rpc(t, rpc(i))
			seen[fmt.Sprint(r.status, " ", r.Code)] = true
			if r.ResultObject != nil {
				t.Errorf("an injected error has a ResultObject: %+v", r)
			}
		}
		if !reflect.DeepEqual(seen, map[string]bool{"500 InternalError": true, "200 500": true, "200 402": true}) {
			t.Errorf("answers %v", seen)
		}
		if st := b.srv.Stats(); st.Billed != 0 || st.ByAnswer["code:402"] == 0 || st.ByAnswer["error:InternalError"] == 0 {
			t.Errorf("stats %+v", st)
		}
	})
	t.Run("aliyun chosen code", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{AliyunFaults: Faults{CodeRate: 1, APICodes: []string{"ServiceUnavailable"}}})
		if r := b.rpc(t, rpc(0)); r.status != http.StatusServiceUnavailable || r.Code != "ServiceUnavailable" {
			t.Errorf("HTTP %d %s", r.status, r.Code)
		}
	})
	t.Run("5xx pages", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{TencentV3Faults: Faults{HTTP5xxRate: 1}, AliyunFaults: Faults{HTTP5xxRate: 1}})
		resp, err := b.client.Do(b.tc3Request(t, v3(0)))
		if err != nil {
			t.Fatal(err)
		}
		if body := readAll(t, resp); resp.StatusCode < 500 || !strings.Contains(string(body), "stgw") {
			t.Errorf("v3: HTTP %d %s", resp.StatusCode, body)
		}
		v := b.rpcParams(rpc(0))
		resp, err = b.client.Get(b.ts.URL + "/?" + v.Encode())
		if err != nil {
			t.Fatal(err)
		}
		if body := readAll(t, resp); resp.StatusCode < 500 || !strings.Contains(string(body), "Tengine") {
			t.Errorf("aliyun: HTTP %d %s", resp.StatusCode, body)
		}
		if st := b.srv.Stats(); st.Billed != 0 || st.Calls != 2 {
			t.Errorf("stats %+v", st)
		}
	})
	t.Run("held answers are billed", func(t *testing.T) {
		t.Parallel()
		const hold = 100 * time.Millisecond
		b := setup(t, Config{TencentV3Faults: Faults{TimeoutRate: 1, TimeoutHold: hold}, AliyunFaults: Faults{TimeoutRate: 1, TimeoutHold: hold}})
		start := time.Now()
		b.tc3Result(t, v3(0))
		b.rpcAnswerOf(t, rpc(0))
		if d := time.Since(start); d < 2*hold {
			t.Errorf("answered after %v, want at least %v", d, 2*hold)
		}
		// The same identity, billed by both providers.
		if st := b.srv.Stats(); st.Billed != 2 || st.ByAnswer["timeout"] != 2 || st.BilledByMoreThanOneProvider != 1 {
			t.Errorf("stats %+v", st)
		}
	})
	t.Run("deterministic by identity", func(t *testing.T) {
		t.Parallel()
		f := Faults{Seed: 5, CodeRate: 0.5}
		b := setup(t, Config{TencentV3Faults: f})
		run := func() []string {
			var out []string
			for i := range 10 {
				for range 3 {
					r := b.tc3(t, v3(i))
					out = append(out, r.errorCode()+r.result())
				}
			}
			return out
		}
		first := run()
		b.srv.ResetStats()
		if again := run(); !reflect.DeepEqual(first, again) {
			t.Errorf("after ResetStats:\n%v\nwant\n%v", again, first)
		}
	})
}

func TestNewProviderConfig(t *testing.T) {
	t.Parallel()
	creds := map[string]string{"id": "key"}
	cases := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"v3 faults ok", Config{Credentials: creds, TencentV3Faults: Faults{CodeRate: 1, APICodes: []string{"LimitExceeded"}}}, ""},
		{"aliyun service code ok", Config{Credentials: creds, AliyunFaults: Faults{CodeRate: 1, APICodes: []string{"412", "Throttling"}}}, ""},
		{"v2 with APICodes", Config{Credentials: creds, Faults: Faults{APICodes: []string{"InternalError"}}}, "APICodes"},
		{"v3 with Codes", Config{Credentials: creds, TencentV3Faults: Faults{Codes: []int{6000}}}, "tencent-v3 faults: Codes"},
		{"aliyun code 200", Config{Credentials: creds, AliyunFaults: Faults{APICodes: []string{"200"}}}, "aliyun faults: APICodes"},
		{"aliyun code 42", Config{Credentials: creds, AliyunFaults: Faults{APICodes: []string{"42"}}}, "three-digit"},
		{"code with a space", Config{Credentials: creds, TencentV3Faults: Faults{APICodes: []string{"Internal Error"}}}, "printable"},
		{"aliyun rate", Config{Credentials: creds, AliyunFaults: Faults{DropRate: 2}}, "aliyun faults: DropRate"},
		{"quota unknown provider", Config{Credentials: creds, Quotas: Quotas{Limits: map[string]map[string]int{"tencent": {"IdCardVerification": 1}}}}, "unknown provider"},
		{"quota unknown action", Config{Credentials: creds, Quotas: Quotas{Enabled: true, Limits: map[string]map[string]int{ProviderAliyun: {"IdCardVerification": 1}}}}, "no action"},
		{"quota negative", Config{Credentials: creds, Quotas: Quotas{Limits: map[string]map[string]int{ProviderTencentV3: {ActionPhoneVerification: -1}}}}, "negative"},
		{"quota for v2", Config{Credentials: creds, Quotas: Quotas{Limits: map[string]map[string]int{ProviderTencentV2: {ActionIDCardAuth: 1}}}}, "QuotaRPS"},
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
}

// TestLogsNoPersonalDataAllProtocols extends TestLogsNoPersonalData to the
// two other protocols.
func TestLogsNoPersonalDataAllProtocols(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	srv, err := New(Config{
		Credentials:     map[string]string{testID: testKey},
		Logger:          zerolog.New(&logs).Level(zerolog.DebugLevel),
		TencentV3Faults: Faults{CodeRate: 0.3, Seed: 1},
		AliyunFaults:    Faults{CodeRate: 0.3, Seed: 1},
		Quotas:          Quotas{Enabled: true, Limits: map[string]map[string]int{ProviderTencentV3: {ActionIDCardVerification: 2}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	b, stop := serve(t, srv)
	const name, phone = "欧阳娜娜", "13912345678"
	for action := range tc3Kinds {
		body := tc3Body(action, name, aliceID, phone, aliceCard)
		b.tc3(t, tc3Call{action: action, body: body})
		b.tc3(t, tc3Call{action: action, body: body, secretKey: "wrong"})
		b.tc3(t, tc3Call{action: action, body: map[string]any{"Name": name, "IdCard": aliceID[:10]}})
	}
	for i := range 3 {
		b.tc3(t, tc3Call{action: ActionIDCardVerification, body: tc3Body(ActionIDCardVerification, name, aliceID, "", ""), timestamp: b.clock.Now().Unix() + int64(i)})
	}
	for action := range rpcActions {
		biz := rpcBusiness(action, name, aliceID, phone, aliceCard, true)
		b.rpc(t, rpcCall{action: action, business: biz})
		b.rpc(t, rpcCall{action: action, business: biz, secret: "wrong"})
		b.rpc(t, rpcCall{action: action, business: merge(biz, map[string]string{"IdentifyNum": aliceID[:10]})})
	}
	srv.SetOutage(ProviderAliyun, true)
	b.rpc(t, rpcCall{action: ActionID2MetaVerify, business: rpcBusiness(ActionID2MetaVerify, name, aliceID, "", "", false)})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	for _, secret := range []string{name, aliceID, aliceID[:10], phone, aliceCard, testKey} {
		if strings.Contains(out, secret) {
			t.Errorf("logs contain %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{`"routes":[`, `"provider":"tencent-v3"`, `"provider":"aliyun"`, `"result":`, `"answer":"biz:`,
		`"error":"AuthFailure.SignatureFailure"`, `"error":"SignatureDoesNotMatch"`, `"error":"RequestLimitExceeded"`, `"outage":true`, `refused: outage`} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %s:\n%s", want, out)
		}
	}
}

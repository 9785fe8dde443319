package sandbox

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestRPCSpecVector(t *testing.T) {
	t.Parallel()
	const (
		wantSTS = "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26"
		wantSig = "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
	)
	params := map[string]string{
		"AccessKeyId":      "testid",
		"Action":           "DescribeRegions",
		"Format":           "XML",
		"SignatureMethod":  "HMAC-SHA1",
		"SignatureNonce":   "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
		"SignatureVersion": "1.0",
		"Timestamp":        "2016-02-23T12:46:24Z",
		"Version":          "2014-05-26",
		"Signature":        wantSig, // excluded from the string to sign
	}
	if got := rpcStringToSign("GET", params); got != wantSTS {
		t.Errorf("rpcStringToSign =\n%s\nwant\n%s", got, wantSTS)
	}
	if !rpcSignatureValid("testsecret", wantSTS, wantSig) {
		t.Error("rpcSignatureValid rejects the spec vector")
	}
	if rpcSignatureValid("testsecret", wantSTS, strings.Replace(wantSig, "+", " ", 1)) {
		t.Error("rpcSignatureValid accepts a mangled signature")
	}
	v := url.Values{}
	for k, s := range params {
		v.Set(k, s)
	}
	if got := testRPCSign("GET", v, "testsecret"); got != wantSig {
		t.Errorf("test signer = %s, want %s", got, wantSig)
	}
}

func TestRPCEscape(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"AZaz09-_.~", "AZaz09-_.~"},
		{"a b", "a%20b"},
		{"a+b", "a%2Bb"},
		{"*", "%2A"},
		{"/", "%2F"},
		{"张", "%E5%BC%A0"},
		{"=&%", "%3D%26%25"},
	}
	for _, tc := range cases {
		if got := rpcEscape(tc.in); got != tc.want {
			t.Errorf("rpcEscape(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestRPCActions(t *testing.T) {
	t.Parallel()
	const phone = "13800138000"
	fx := loadFixture(t,
		`{"name":"张三","idNumber":"`+aliceID+`","phoneNumber":"`+phone+`","bankCardNumber":"`+aliceCard+`","authCodes":{"BspIdCardAuth":"00","BspMobileAuth3":"01","BspBankCard3Auth":"14","BspBankCardAuth4":"12"}}`,
		`{"name":"李四","idNumber":"`+bobID+`","phoneNumber":"13912345678","bankCardNumber":"`+bobCard+`","authCodes":{"BspIdCardAuth":"98","BspMobileAuth3":"00","BspBankCard3Auth":"03","BspBankCardAuth4":"00"}}`,
	)
	b := setup(t, Config{Fixture: fx})
	luhnBad := aliceCard[:len(aliceCard)-1] + string('0'+(aliceCard[len(aliceCard)-1]-'0'+1)%10)
	cases := []struct {
		name, action                  string
		bank4                         bool
		person, id, mobile, card, biz string
		sub, isp                      string
	}{
		{"idcard pass", ActionID2MetaVerify, false, "张三", aliceID, "", "", "1", "", ""},
		{"idcard mismatch", ActionID2MetaVerify, false, "李四", bobID, "", "", "2", "", ""},
		{"mobile simple, name fails", ActionMobile3MetaSimpleVerify, false, "张三", aliceID, phone, "", "2", "", "CMCC"},
		{"mobile detail, name fails", ActionMobile3MetaDetailVerify, false, "张三", aliceID, phone, "", "2", "203", "CMCC"},
		{"mobile detail, other phone", ActionMobile3MetaDetailVerify, false, "李四", bobID, "18612345678", "", "2", "201", "CUCC"},
		{"mobile detail, pass", ActionMobile3MetaDetailVerify, false, "李四", bobID, "13912345678", "", "1", "101", "CMCC"},
		{"bank3 dormant card", ActionBankMetaVerify, false, "张三", aliceID, "", aliceCard, "2", "208", ""},
		{"bank3 card number wrong", ActionBankMetaVerify, false, "李四", bobID, "", bobCard, "3", "304", ""},
		{"bank3 Luhn-invalid card", ActionBankMetaVerify, false, "张三", aliceID, "", luhnBad, "2", "206", ""},
		{"bank4 invalid card", ActionBankMetaVerify, true, "张三", aliceID, phone, aliceCard, "2", "206", ""},
		{"bank4 pass", ActionBankMetaVerify, true, "李四", bobID, "13912345678", bobCard, "1", "101", ""},
		{"bank4 cardholder differs", ActionBankMetaVerify, true, "张三", aliceID, "13700137000", aliceCard, "2", "201", ""},
	}
	for _, tc := range cases {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			t.Run(tc.name+"/"+method, func(t *testing.T) {
				t.Parallel()
				r := b.rpc(t, rpcCall{method: method, action: tc.action, business: rpcBusiness(tc.action, tc.person, tc.id, tc.mobile, tc.card, tc.bank4)})
				if r.status != http.StatusOK || r.Code != "200" || r.ResultObject == nil {
					t.Fatalf("HTTP %d Code %s %q", r.status, r.Code, r.Message)
				}
				if got := *r.ResultObject; got.BizCode != tc.biz || got.SubCode != tc.sub || got.IspName != tc.isp {
					t.Errorf("ResultObject = %+v, want BizCode %s SubCode %q IspName %q", got, tc.biz, tc.sub, tc.isp)
				}
				if !uuidRE.MatchString(r.RequestID) {
					t.Errorf("RequestId %q", r.RequestID)
				}
			})
		}
	}
	// Identities the fixture does not know get Expected, translated.
	for _, tc := range []struct {
		action string
		bank4  bool
		kind   string
	}{
		{ActionID2MetaVerify, false, ActionIDCardAuth},
		{ActionMobile3MetaSimpleVerify, false, ActionMobileAuth3},
		{ActionMobile3MetaDetailVerify, false, ActionMobileAuth3},
		{ActionBankMetaVerify, false, ActionBankCard3Auth},
		{ActionBankMetaVerify, true, ActionBankCardAuth4},
	} {
		t.Run("expected/"+tc.kind+"/"+tc.action, func(t *testing.T) {
			t.Parallel()
			for i := range 4 {
				p := Params{Name: "赵六", IDNumber: withIDCheck("5101072000010112" + string(rune('0'+i))), Phone: "13312345678", BankCard: withLuhn("62220210000000000" + string(rune('1'+i)))}
				want, _ := TranslateAliyun(tc.action, Expected(tc.kind, p))
				if got := b.rpcAnswerOf(t, rpcCall{action: tc.action, business: rpcBusiness(tc.action, p.Name, p.IDNumber, p.Phone, p.BankCard, tc.bank4)}); got != want {
					t.Errorf("got %+v, want %+v", got, want)
				}
			}
		})
	}
}

func TestRPCRefusals(t *testing.T) {
	t.Parallel()
	const name = "欧阳娜娜"
	badCheck := aliceID[:17] + string("0123456789X"[(strings.IndexByte("0123456789X", aliceID[17])+1)%11])
	idBiz := func() map[string]string { return rpcBusiness(ActionID2MetaVerify, name, aliceID, "", "", false) }
	stamp := func(d time.Duration) string { return testEpoch.Add(d).UTC().Format("2006-01-02T15:04:05Z") }
	bank := func(edit func(map[string]string)) map[string]string {
		m := rpcBusiness(ActionBankMetaVerify, name, aliceID, "13800138000", aliceCard, true)
		edit(m)
		return m
	}
	cases := []struct {
		name       string
		c          rpcCall
		wantStatus int
		wantCode   string
		wantMsg    string
	}{
		{"wrong secret", rpcCall{secret: "not-the-secret"}, 400, "SignatureDoesNotMatch", "signature"},
		{"unknown AccessKeyId", rpcCall{accessKey: "LTAIunknown"}, 404, "InvalidAccessKeyId.NotFound", "access key"},
		{"stale Timestamp", rpcCall{timestamp: stamp(-15*time.Minute - time.Second)}, 400, "InvalidTimeStamp.Expired", "expired"},
		{"future Timestamp", rpcCall{timestamp: stamp(15*time.Minute + time.Second)}, 400, "InvalidTimeStamp.Expired", "expired"},
		{"edge of window", rpcCall{timestamp: stamp(-15 * time.Minute)}, 200, "200", "success"},
		{"Timestamp not ISO 8601", rpcCall{timestamp: "1700000000"}, 400, "InvalidTimeStamp.Format", "formatted"},
		{"tampered value", rpcCall{edit: func(v url.Values) { v.Set("UserName", "李四") }}, 400, "SignatureDoesNotMatch", "signature"},
		{"extra parameter after signing", rpcCall{edit: func(v url.Values) { v.Set("Extra", "1") }}, 400, "SignatureDoesNotMatch", "signature"},
		{"signature not base64", rpcCall{edit: func(v url.Values) { v.Set("Signature", "abc def") }}, 400, "SignatureDoesNotMatch", "signature"},
		{"other version", rpcCall{edit: nil, business: merge(idBiz(), map[string]string{"Version": "2020-11-12"})}, 400, "InvalidVersion", "2019-03-07"},
		{"unknown action", rpcCall{action: "DescribeVerifyToken"}, 404, "InvalidAction.NotFound", "DescribeVerifyToken"},
		{"XML", rpcCall{business: merge(idBiz(), map[string]string{"Format": "XML"})}, 400, "InvalidParameter", "Format"},
		{"other signature method", rpcCall{business: merge(idBiz(), map[string]string{"SignatureMethod": "HMAC-SHA256"})}, 400, "InvalidParameter", "SignatureMethod"},
		{"missing UserName", rpcCall{business: without(idBiz(), "UserName")}, 200, "400", "UserName"},
		{"bad ID check digit", rpcCall{business: merge(idBiz(), map[string]string{"IdentifyNum": badCheck})}, 200, "401", "IdentifyNum"},
		{"md5", rpcCall{business: merge(idBiz(), map[string]string{"ParamType": "md5"})}, 200, "401", "ParamType"},
		{"bad mobile", rpcCall{action: ActionMobile3MetaSimpleVerify, business: rpcBusiness(ActionMobile3MetaSimpleVerify, name, aliceID, "2380013800", "", false)}, 200, "401", "Mobile"},
		{"bank4 missing Mobile", rpcCall{action: ActionBankMetaVerify, business: bank(func(m map[string]string) { delete(m, "Mobile") })}, 200, "400", "Mobile"},
		{"bank bad ProductType", rpcCall{action: ActionBankMetaVerify, business: bank(func(m map[string]string) { m["ProductType"] = "BANK_CARD_2_META" })}, 200, "401", "ProductType"},
		{"bank bad VerifyMode", rpcCall{action: ActionBankMetaVerify, business: bank(func(m map[string]string) { m["VerifyMode"] = "VERIFY_MOBILE" })}, 200, "401", "VerifyMode"},
		{"bank passport", rpcCall{action: ActionBankMetaVerify, business: bank(func(m map[string]string) { m["IdentityType"] = "02" })}, 200, "401", "IdentityType"},
		{"bank bad card", rpcCall{action: ActionBankMetaVerify, business: bank(func(m map[string]string) { m["BankCard"] = "6222-0000" })}, 200, "401", "BankCard"},
	}
	// As a POST: a GET without AccessKeyId is not routed to Alibaba Cloud.
	for _, param := range rpcCommon {
		cases = append(cases, struct {
			name       string
			c          rpcCall
			wantStatus int
			wantCode   string
			wantMsg    string
		}{"missing " + param, rpcCall{method: http.MethodPost, edit: func(v url.Values) { v.Del(param) }}, 400, "MissingParameter", param})
	}
	b := setup(t, Config{})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := tc.c
			c.action = cmpOr(c.action, ActionID2MetaVerify)
			if c.business == nil {
				c.business = idBiz()
			}
			r := b.rpc(t, c)
			if r.status != tc.wantStatus || r.Code != tc.wantCode || !strings.Contains(r.Message, tc.wantMsg) {
				t.Fatalf("got HTTP %d Code %s %q, want %d %s with %q", r.status, r.Code, r.Message, tc.wantStatus, tc.wantCode, tc.wantMsg)
			}
			if r.RequestID == "" {
				t.Error("no RequestId")
			}
			if r.status != http.StatusOK && (r.HostID == "" || !strings.Contains(r.Recommend, tc.wantCode)) {
				t.Errorf("gateway error without HostId or Recommend: %+v", r)
			}
			if r.Code != "200" && r.ResultObject != nil {
				t.Error("an error answer carries a ResultObject")
			}
			for _, secret := range []string{name, aliceID, badCheck, "2380013800", "6222-0000", aliceCard, testKey} {
				if strings.Contains(r.Message, secret) {
					t.Errorf("message quotes personal data: %s", r.Message)
				}
			}
		})
	}
	t.Cleanup(func() {
		st := b.srv.Stats().Providers[ProviderAliyun]
		if st.Billed != 1 || st.Calls != int64(len(cases)) || st.ByAnswer["code:401"] != 7 || st.ByAnswer["error:SignatureDoesNotMatch"] != 4 {
			t.Errorf("stats %+v, want only the one answer billed", st)
		}
	})
}

func merge(m, more map[string]string) map[string]string {
	for k, v := range more {
		m[k] = v
	}
	return m
}

func TestRPCNonce(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	biz := rpcBusiness(ActionID2MetaVerify, "张三", aliceID, "", "", false)
	first := rpcCall{action: ActionID2MetaVerify, business: biz, nonce: "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"}
	b.rpcAnswerOf(t, first)
	if r := b.rpc(t, first); r.status != 400 || r.Code != "SignatureNonceUsed" {
		t.Fatalf("reused nonce: HTTP %d %s, want 400 SignatureNonceUsed", r.status, r.Code)
	}
	// Nonces are per AccessKeyId.
	other := first
	other.accessKey = otherID
	b.rpcAnswerOf(t, other)
	// A nonce used with Tencent v2 does not count for Alibaba Cloud.
	v2 := call{action: ActionIDCardAuth, business: business(ActionIDCardAuth, "o-n", "张三", aliceID, "", ""), nonce: "4242"}
	b.answer(t, v2)
	b.rpcAnswerOf(t, rpcCall{action: ActionID2MetaVerify, business: biz, nonce: "4242"})
	// A refused request (bad signature) does not use up its nonce.
	bad := rpcCall{action: ActionID2MetaVerify, business: biz, nonce: "n-777", secret: "wrong"}
	if r := b.rpc(t, bad); r.Code != "SignatureDoesNotMatch" {
		t.Fatalf("bad signature: %s", r.Code)
	}
	bad.secret = ""
	b.rpcAnswerOf(t, bad)
	// After 15 minutes the nonce is forgotten (and the timestamp is
	// signed afresh).
	b.clock.Add(15*time.Minute + time.Second)
	b.rpcAnswerOf(t, first)
	st := b.srv.Stats().Providers[ProviderAliyun]
	if st.ByAnswer["error:SignatureNonceUsed"] != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestRPCRouting(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	// A GET to / without AccessKeyId is nobody's.
	resp, err := b.client.Get(b.ts.URL + "/?Action=Id2MetaVerify")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET / without AccessKeyId: HTTP %d", resp.StatusCode)
	}
	// A POST with neither a form nor JSON is answered as Alibaba Cloud.
	resp, err = b.client.Post(b.ts.URL+"/", "text/plain", strings.NewReader("hello"))
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"Code":"InvalidParameter"`) {
		t.Errorf("POST text/plain: HTTP %d %s", resp.StatusCode, body)
	}
	req, _ := http.NewRequest(http.MethodPut, b.ts.URL+"/", nil)
	resp, err = b.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("PUT /: HTTP %d", resp.StatusCode)
	}
}

package sandbox

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The spec's vectors: Tencent's published CVM example.
const (
	tc3VectorBody = `{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}`
	tc3VectorTS   = "1551113065"
	tc3VectorDate = "2019-02-25"
)

func TestTC3SpecVectors(t *testing.T) {
	t.Parallel()
	headers := map[string]string{
		"content-type": "application/json; charset=utf-8",
		"host":         "cvm.tencentcloudapi.com",
		"x-tc-action":  "DescribeInstances",
	}
	cases := []struct {
		name, key, wantCanonHash, wantSig string
		signed                            []string
	}{
		{"content-type;host", "Gu5t9xGARNpq86cd98joQYCN3*******",
			"5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031",
			"2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c",
			[]string{"content-type", "host"}},
		{"with x-tc-action", strings.Repeat("*", 32),
			"7019a55be8395899b900fb5564e4200d984910f34794a27cb3fb7d10ff6a1e84",
			"10b1a37a7301a02ca19a647ad722d5e43b4b3cff309d421d85b46093f6ab6c4f",
			[]string{"content-type", "host", "x-tc-action"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			canonical := tc3CanonicalRequest("POST", tc.signed, func(n string) string { return headers[n] }, []byte(tc3VectorBody))
			if !strings.HasSuffix(canonical, "\n35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064") {
				t.Errorf("hashed payload wrong in\n%s", canonical)
			}
			if got := sha256Hex(canonical); got != tc.wantCanonHash {
				t.Errorf("sha256(CanonicalRequest) = %s, want %s\n%s", got, tc.wantCanonHash, canonical)
			}
			if got := tc3Signature(tc.key, tc3VectorDate, "cvm", tc3VectorTS, canonical); got != tc.wantSig {
				t.Errorf("sandbox signature = %s, want %s", got, tc.wantSig)
			}
			auth := testTC3Authorization("AKIDz8krbsJ5yKBZQpn74WFkmLPx3gnPhESA", tc.key, "cvm", tc3VectorDate, tc3VectorTS, tc.signed, headers, []byte(tc3VectorBody))
			if !strings.HasSuffix(auth, "Signature="+tc.wantSig) {
				t.Errorf("test signer: %s, want Signature=%s", auth, tc.wantSig)
			}
			a, terr := parseTC3Authorization(auth)
			if terr != nil || a.secretID != "AKIDz8krbsJ5yKBZQpn74WFkmLPx3gnPhESA" || a.date != tc3VectorDate || a.service != "cvm" || a.signature != tc.wantSig {
				t.Errorf("parseTC3Authorization = %+v, %v", a, terr)
			}
		})
	}
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestTC3Actions(t *testing.T) {
	t.Parallel()
	const phone = "13800138000"
	fx := loadFixture(t,
		`{"name":"张三","idNumber":"`+aliceID+`","phoneNumber":"`+phone+`","bankCardNumber":"`+aliceCard+`","authCodes":{"BspIdCardAuth":"00","BspMobileAuth3":"05","BspBankCard3Auth":"14","BspBankCardAuth4":"12"}}`,
		`{"name":"李四","idNumber":"`+bobID+`","phoneNumber":"13912345678","bankCardNumber":"`+bobCard+`","authCodes":{"BspIdCardAuth":"01","BspMobileAuth3":"00","BspBankCard3Auth":"03","BspBankCardAuth4":"00"}}`,
	)
	b := setup(t, Config{Fixture: fx})
	luhnBad := aliceCard[:len(aliceCard)-1] + string('0'+(aliceCard[len(aliceCard)-1]-'0'+1)%10)
	cases := []struct {
		name, action                  string
		person, id, phone, card, want string
	}{
		{"idcard pass", ActionIDCardVerification, "张三", aliceID, "", "", "0"},
		{"idcard mismatch", ActionIDCardVerification, "李四", bobID, "", "", "-1"},
		{"idcard name differs", ActionIDCardVerification, "张叁", aliceID, "", "", "-1"},
		{"phone data check fails", ActionPhoneVerification, "张三", aliceID, phone, "", "-4"},
		{"phone pass", ActionPhoneVerification, "李四", bobID, "+86" + "13912345678", "", "0"},
		{"bank3 dormant card", ActionBankCardVerification, "张三", aliceID, "", aliceCard, "-10"},
		{"bank3 card number wrong", ActionBankCardVerification, "李四", bobID, "", bobCard, "-4"},
		{"bank3 Luhn-invalid card", ActionBankCardVerification, "张三", aliceID, "", luhnBad, "-8"},
		{"bank4 invalid card", ActionBankCard4EVerification, "张三", aliceID, phone, aliceCard, "-9"},
		{"bank4 pass", ActionBankCard4EVerification, "李四", bobID, "13912345678", bobCard, "0"},
		{"bank4 Luhn-invalid card", ActionBankCard4EVerification, "李四", bobID, "13912345678", luhnBad, "-9"},
		{"bank4 cardholder differs", ActionBankCard4EVerification, "张三", aliceID, "13700137000", aliceCard, "-6"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := b.tc3Result(t, tc3Call{action: tc.action, body: tc3Body(tc.action, tc.person, tc.id, tc.phone, tc.card)})
			if got != tc.want {
				t.Errorf("Result = %s, want %s", got, tc.want)
			}
		})
	}
	// Identities the fixture does not know get Expected, translated.
	for v3, kind := range tc3Kinds {
		t.Run("expected/"+v3, func(t *testing.T) {
			t.Parallel()
			for i, id := range []string{withIDCheck("51010720000101123"), withIDCheck("51010720000101124"), withIDCheck("51010720000101125")} {
				p := Params{Name: "赵六", IDNumber: id, Phone: "13312345678", BankCard: withLuhn("62220210000000000" + string(rune('1'+i)))}
				want, _ := TranslateTencentV3(v3, Expected(kind, p))
				r := b.tc3(t, tc3Call{action: v3, body: tc3Body(v3, p.Name, p.IDNumber, p.Phone, p.BankCard)})
				if r.result() != want {
					t.Errorf("Result = %q (error %+v), want %s", r.result(), r.Response.Error, want)
				}
				if !uuidRE.MatchString(r.Response.RequestID) {
					t.Errorf("RequestId %q is not a UUID", r.Response.RequestID)
				}
				if r.header.Get("Date") == "" {
					t.Error("no Date header: clients cannot measure clock skew")
				}
				if v3 == ActionPhoneVerification && r.Response.Isp != "电信" {
					t.Errorf("Isp = %q, want 电信 for 133", r.Response.Isp)
				}
			}
		})
	}
}

func TestTC3PhoneDetail(t *testing.T) {
	t.Parallel()
	fx := loadFixture(t, `{"name":"张三","idNumber":"`+aliceID+`","phoneNumber":"13800138000","authCodes":{"BspIdCardAuth":"00","BspMobileAuth3":"00"}}`)
	b := setup(t, Config{Fixture: fx})
	cases := []struct {
		name, person, phone, mode, result, detail, isp string
	}{
		{"other phone, detailed", "张三", "13100131000", "1", "-4", "PhoneNameIdCardMismatch", "联通"},
		{"name wrong, detailed", "张叁", "13800138000", "1", "-4", "PhoneNameMismatch", "移动"},
		{"other phone, simple", "张三", "13100131000", "0", "-4", "", "联通"},
		{"pass, detailed", "张三", "13800138000", "1", "0", "", "移动"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body := tc3Body(ActionPhoneVerification, tc.person, aliceID, tc.phone, "")
			body["VerifyMode"] = tc.mode
			r := b.tc3(t, tc3Call{action: ActionPhoneVerification, body: body})
			if r.result() != tc.result || r.Response.ResultDetail != tc.detail || r.Response.Isp != tc.isp {
				t.Errorf("got Result %q ResultDetail %q Isp %q, want %q %q %q", r.result(), r.Response.ResultDetail, r.Response.Isp, tc.result, tc.detail, tc.isp)
			}
		})
	}
}

func TestTC3Refusals(t *testing.T) {
	t.Parallel()
	const name = "欧阳娜娜"
	idBody := func() map[string]any { return tc3Body(ActionIDCardVerification, name, aliceID, "", "") }
	badCheck := aliceID[:17] + string("0123456789X"[(strings.IndexByte("0123456789X", aliceID[17])+1)%11])
	now := testEpoch.Unix()
	cases := []struct {
		name     string
		c        tc3Call
		wantCode string
		wantMsg  string // substring of the message
	}{
		{"wrong key", tc3Call{secretKey: "not-the-key"}, "AuthFailure.SignatureFailure", "signature"},
		{"unknown SecretId", tc3Call{secretID: "AKIDunknown"}, "AuthFailure.SecretIdNotFound", "SecretId"},
		{"stale timestamp", tc3Call{timestamp: now - 301}, "AuthFailure.SignatureExpire", "expired"},
		{"future timestamp", tc3Call{timestamp: now + 301}, "AuthFailure.SignatureExpire", "expired"},
		{"edge of window", tc3Call{timestamp: now - 300}, "", ""},
		{"tampered body", tc3Call{edit: func(r *http.Request) {
			setBody(r, `{"IdCard":"`+aliceID+`","Name":"李四"}`)
		}}, "AuthFailure.SignatureFailure", "CanonicalRequest"},
		{"tampered host", tc3Call{edit: func(r *http.Request) { r.Host = "faceid.tencentcloudapi.com" }}, "AuthFailure.SignatureFailure", "signature"},
		{"tampered content type", tc3Call{edit: func(r *http.Request) { r.Header.Set("Content-Type", "application/json") }}, "AuthFailure.SignatureFailure", "signature"},
		{"credential date not the timestamp's UTC date", tc3Call{date: "2023-11-15"}, "AuthFailure.SignatureFailure", "UTC date"},
		{"credential for another service", tc3Call{service: "cvm"}, "AuthFailure.SignatureFailure", "faceid"},
		{"host not signed", tc3Call{signed: []string{"content-type"}}, "AuthFailure.InvalidAuthorization", "content-type and host"},
		{"no Authorization", tc3Call{edit: func(r *http.Request) { r.Header.Del("Authorization") }}, "AuthFailure.InvalidAuthorization", "missing"},
		{"other algorithm", tc3Call{edit: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "TC3-HMAC-SHA256", "HMAC-SHA1", 1))
		}}, "AuthFailure.InvalidAuthorization", "algorithm"},
		{"no timestamp", tc3Call{edit: func(r *http.Request) { r.Header.Del("X-TC-Timestamp") }}, "MissingParameter", "X-TC-Timestamp"},
		{"no version", tc3Call{version: "-"}, "InvalidParameter", "X-TC-Version"},
		{"other version", tc3Call{version: "2017-03-12"}, "NoSuchVersion", "2018-03-01"},
		{"unknown action", tc3Call{action: "LivenessCompare"}, "InvalidAction", "LivenessCompare"},
		{"no action header", tc3Call{edit: func(r *http.Request) { r.Header.Del("X-TC-Action") }}, "MissingParameter", "X-TC-Action"},
		{"missing Name", tc3Call{body: map[string]any{"IdCard": aliceID}}, "InvalidParameter", "`Name`"},
		{"Name not a string", tc3Call{body: map[string]any{"IdCard": aliceID, "Name": 42}}, "InvalidParameter", "`Name`"},
		{"bad ID check digit", tc3Call{body: map[string]any{"IdCard": badCheck, "Name": name}}, "InvalidParameterValue", "`IdCard`"},
		{"unknown field", tc3Call{body: map[string]any{"IdCard": aliceID, "Name": name, "OrderNo": "x"}}, "UnknownParameter", "`OrderNo`"},
		{"encrypted", tc3Call{body: map[string]any{"IdCard": aliceID, "Name": name, "Encryption": map[string]any{}}}, "InvalidParameter.UnsupportEncryptField", "Encryption"},
		{"not JSON", tc3Call{rawBody: "IdCard=1"}, "InvalidParameter", "JSON object"},
		{"bad phone", tc3Call{action: ActionPhoneVerification, body: tc3Body(ActionPhoneVerification, name, aliceID, "2380013800", "")}, "InvalidParameterValue", "`Phone`"},
		{"bad VerifyMode", tc3Call{action: ActionPhoneVerification, body: map[string]any{"IdCard": aliceID, "Name": name, "Phone": "13800138000", "VerifyMode": "2"}}, "InvalidParameterValue", "VerifyMode"},
		{"bad card", tc3Call{action: ActionBankCardVerification, body: tc3Body(ActionBankCardVerification, name, aliceID, "", "6222-0000")}, "InvalidParameterValue", "`BankCard`"},
		{"CertType passport", tc3Call{action: ActionBankCardVerification, body: map[string]any{"IdCard": aliceID, "Name": name, "BankCard": aliceCard, "CertType": 1}}, "InvalidParameterValue", "CertType"},
		{"CertType a string", tc3Call{action: ActionBankCard4EVerification, body: map[string]any{"IdCard": aliceID, "Name": name, "BankCard": aliceCard, "Phone": "13800138000", "CertType": "0"}}, "InvalidParameter", "CertType"},
		{"bank4 missing Phone", tc3Call{action: ActionBankCard4EVerification, body: tc3Body(ActionBankCardVerification, name, aliceID, "", aliceCard)}, "InvalidParameter", "`Phone`"},
		{"x-tc-action signed too", tc3Call{signed: []string{"content-type", "host", "x-tc-action"}}, "", ""},
	}
	b := setup(t, Config{})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := tc.c
			c.action = cmpOr(c.action, ActionIDCardVerification)
			if c.body == nil && c.rawBody == "" {
				c.body = idBody()
			}
			r := b.tc3(t, c)
			if tc.wantCode == "" {
				if r.Response.Error != nil {
					t.Fatalf("got %+v, want an answer", *r.Response.Error)
				}
				return
			}
			if r.errorCode() != tc.wantCode || !strings.Contains(r.Response.Error.Message, tc.wantMsg) {
				t.Fatalf("got %+v, want %s with %q", r.Response.Error, tc.wantCode, tc.wantMsg)
			}
			if r.Response.Result != nil {
				t.Error("an error answer carries a Result")
			}
			for _, secret := range []string{name, aliceID, badCheck, "2380013800", "6222-0000", aliceCard} {
				if strings.Contains(r.Response.Error.Message, secret) {
					t.Errorf("message quotes personal data: %s", r.Response.Error.Message)
				}
			}
		})
	}
	// The cleanup runs once the parallel subtests are done.
	t.Cleanup(func() {
		st := b.srv.Stats().Providers[ProviderTencentV3]
		if st.Billed != 2 || st.ByAnswer["error:AuthFailure.SignatureFailure"] != 6 || st.Calls != int64(len(cases)) {
			t.Errorf("stats %+v, want only the two answers billed", st)
		}
	})
}

func setBody(r *http.Request, body string) {
	r.Body = http.NoBody
	if body != "" {
		r.Body = io.NopCloser(strings.NewReader(body))
	}
	r.ContentLength = int64(len(body))
}

func TestTC3Clock(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	c := tc3Call{action: ActionIDCardVerification, body: tc3Body(ActionIDCardVerification, "张三", aliceID, "", "")}
	b.tc3Result(t, c)
	// A client whose clock is 6 minutes slow is refused.
	c.timestamp = b.clock.Now().Add(-6 * time.Minute).Unix()
	if r := b.tc3(t, c); r.errorCode() != "AuthFailure.SignatureExpire" {
		t.Errorf("got %+v", r.Response.Error)
	}
}

package aliyun

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/realname-io/realname/internal/provider"
)

const (
	match    = provider.ClassMatch
	mismatch = provider.ClassMismatch
	invalid  = provider.ClassInvalidCard
	unusable = provider.ClassCardUnusable
	noRecord = provider.ClassNoRecord
	idLimit  = provider.ClassIdentityLimit
	badReq   = provider.ClassBadRequest
	creds    = provider.ClassCredentials
	replay   = provider.ClassReplay
	trans    = provider.ClassTransient
	throttle = provider.ClassThrottled
	unknown  = provider.ClassUnknown
)

// TestClassifyBizCode has one row per BizCode and SubCode of every action,
// so a change to any mapping fails here by name.
func TestClassifyBizCode(t *testing.T) {
	t.Parallel()
	type row struct {
		action  string
		code    string
		class   provider.Class
		billing provider.Billing
	}
	cases := []row{
		{ActionIDCard, "1", match, billed},
		{ActionIDCard, "2", mismatch, billed},
		{ActionIDCard, "3", noRecord, possibly},

		{ActionMobile3, "1", match, billed},
		{ActionMobile3, "2", mismatch, billed},
		{ActionMobile3, "3", noRecord, possibly},

		{ActionMobile3Detail, "1", match, billed},
		{ActionMobile3Detail, "2", mismatch, billed},
		{ActionMobile3Detail, "3", noRecord, possibly},
		{ActionMobile3Detail, "1/101", match, billed},
		{ActionMobile3Detail, "2/201", mismatch, billed},
		{ActionMobile3Detail, "2/202", mismatch, billed},
		{ActionMobile3Detail, "2/203", mismatch, billed},
		{ActionMobile3Detail, "2/204", mismatch, billed},
		{ActionMobile3Detail, "3/301", noRecord, possibly},

		{ActionBankCard, "1", match, billed},
		{ActionBankCard, "2", mismatch, billed},
		{ActionBankCard, "3", noRecord, notBill},
		{ActionBankCard, "1/101", match, billed},
		{ActionBankCard, "2/201", mismatch, billed},
		{ActionBankCard, "2/202", unusable, billed},
		{ActionBankCard, "2/203", unusable, billed},
		{ActionBankCard, "2/204", unusable, billed},
		{ActionBankCard, "2/205", unusable, billed},
		{ActionBankCard, "2/206", invalid, billed},
		{ActionBankCard, "2/207", invalid, billed},
		{ActionBankCard, "2/208", unusable, billed},
		{ActionBankCard, "2/209", unusable, billed},
		{ActionBankCard, "2/210", unusable, billed},
		{ActionBankCard, "2/211", unusable, billed},
		{ActionBankCard, "2/212", unusable, billed},
		{ActionBankCard, "2/213", unusable, billed},
		{ActionBankCard, "2/214", unusable, billed},
		{ActionBankCard, "2/215", mismatch, billed},
		{ActionBankCard, "2/216", unusable, billed},
		{ActionBankCard, "3/301", unusable, notBill},
		{ActionBankCard, "3/302", unusable, notBill},
		{ActionBankCard, "3/303", unusable, notBill},
		{ActionBankCard, "3/304", invalid, notBill},
		{ActionBankCard, "3/305", noRecord, notBill},
		{ActionBankCard, "3/306", noRecord, notBill},
	}
	size := 0
	for _, codes := range bizOutcomes {
		size += len(codes)
	}
	if len(cases) != size {
		t.Fatalf("%d rows tested, tables have %d", len(cases), size)
	}
	unknowns := []row{
		{ActionIDCard, "1/101", unknown, possibly}, // a SubCode this action does not document
		{ActionIDCard, "0", unknown, possibly},
		{ActionIDCard, "", unknown, possibly},
		{ActionIDCard, " 1", unknown, possibly},
		{ActionMobile3, "4", unknown, possibly},
		{ActionBankCard, "1/201", unknown, possibly}, // BizCode and SubCode disagree
		{ActionBankCard, "2/101", unknown, possibly},
		{ActionBankCard, "3/307", unknown, possibly},
		{"NoSuchAction", "1", unknown, possibly},
	}
	for _, tc := range append(cases, unknowns...) {
		t.Run(tc.action+"/"+tc.code, func(t *testing.T) {
			t.Parallel()
			o, ok := ClassifyBizCode(tc.action, tc.code)
			if o.Class != tc.class || o.Billing != tc.billing {
				t.Fatalf("ClassifyBizCode(%s, %q) = %s/%s, want %s/%s", tc.action, tc.code, o.Class, o.Billing, tc.class, tc.billing)
			}
			if ok != (tc.class != unknown) {
				t.Fatalf("known = %v", ok)
			}
			if ok && (!o.Class.Definitive() || o.Description == "") {
				t.Fatalf("table row %+v is not definitive or lacks a description", o)
			}
		})
	}
}

// TestClassifyErrorCode has one row per service code and per gateway code.
func TestClassifyErrorCode(t *testing.T) {
	t.Parallel()
	type row struct {
		code     string
		class    provider.Class
		wantHint string // a substring of the hint; "" for none
	}
	service := []row{
		{"400", badReq, ""},
		{"401", badReq, ""},
		{"402", trans, "security policy"},
		{"403", idLimit, ""},
		{"405", noRecord, ""},
		{"410", creds, "enable"},
		{"411", creds, "AliyunYundunCloudAuthFullAccess"},
		{"412", creds, "arrears"},
		{"500", trans, ""},
	}
	gateway := []row{
		{"SignatureDoesNotMatch", creds, "AccessKeySecret"},
		{"IncompleteSignature", creds, "AccessKey"},
		{"InvalidAccessKeyId.NotFound", creds, "AccessKeyID"},
		{"InvalidAccessKeyId.Inactive", creds, "enable the AccessKey"},
		{"InvalidTimeStamp.Expired", creds, "NTP"},
		{"InvalidTimeStamp.Format", creds, "NTP"},
		{"SignatureNonceUsed", replay, ""},
		{"Throttling", throttle, ""},
		{"Throttling.User", throttle, ""},
		{"Throttling.Api", throttle, ""},
		{"NoPermission", creds, "AliyunYundunCloudAuthFullAccess"},
		{"InvalidBiz", creds, "scene"},
		{"Forbidden.RAM", creds, "AliyunYundunCloudAuthFullAccess"},
		{"Forbidden.RAMUserAccessDenied", creds, "AliyunYundunCloudAuthFullAccess"},
		{"Forbidden.AccountAccessDenied", creds, "arrears"},
		{"Forbidden.ExceptionRepeatedInvoke", idLimit, ""},
		{"ServiceUnavailable", trans, ""},
		{"InternalError", trans, ""},
		{"MissingParameter", badReq, ""},
		{"InvalidParameter", badReq, ""},
	}
	prefixes := []row{
		{"InvalidTimeStamp.Whatever", creds, "NTP"},
		{"InvalidAccessKeyId.Other", creds, "AccessKeyID"},
		{"Throttling.Tenant", throttle, ""},
		{"Forbidden.Something", creds, "AliyunYundunCloudAuthFullAccess"},
		{"MissingParameter.UserName", badReq, ""},
		{"InvalidParameter.Format", badReq, ""},
	}
	if len(service) != len(serviceOutcomes) || len(gateway) != len(gatewayOutcomes) || len(prefixes) != len(gatewayPrefixes) {
		t.Fatalf("rows tested: %d service, %d gateway, %d prefixes; tables have %d, %d, %d",
			len(service), len(gateway), len(prefixes), len(serviceOutcomes), len(gatewayOutcomes), len(gatewayPrefixes))
	}
	unknowns := []row{{"404", unknown, ""}, {"200", unknown, ""}, {"", unknown, ""}, {"Throttle", unknown, ""}, {"signaturenonceused", unknown, ""}, {"Unknown.Code", unknown, ""}}
	all := append(append(append(service, gateway...), prefixes...), unknowns...)
	for _, tc := range all {
		t.Run("code="+tc.code, func(t *testing.T) {
			t.Parallel()
			o, ok := ClassifyErrorCode(tc.code)
			if o.Class != tc.class {
				t.Fatalf("ClassifyErrorCode(%q) = %s, want %s", tc.code, o.Class, tc.class)
			}
			if ok != (tc.class != unknown) {
				t.Fatalf("known = %v", ok)
			}
			// Refusals are never billed: the action did not answer.
			if o.Billing != provider.NotBilled {
				t.Fatalf("billing %s, want not billed", o.Billing)
			}
			if !strings.Contains(o.Hint, tc.wantHint) {
				t.Fatalf("hint %q lacks %q", o.Hint, tc.wantHint)
			}
			// A person must act on every credentials code: each says what
			// to check.
			if tc.class == creds && o.Hint == "" {
				t.Fatal("credentials code without a hint")
			}
		})
	}
}

// TestNoPermissionHintNamesTheFAQCauses: the FAQ gives four causes of
// NoPermission; the hint names each.
func TestNoPermissionHintNamesTheFAQCauses(t *testing.T) {
	t.Parallel()
	o, _ := ClassifyErrorCode("NoPermission")
	for _, cause := range []string{"AccessKey ID and secret", "AliyunYundunCloudAuthFullAccess", "enabled", "arrears"} {
		if !strings.Contains(o.Hint, cause) {
			t.Errorf("hint %q lacks %q", o.Hint, cause)
		}
	}
}

func TestClassifyHTTPStatus(t *testing.T) {
	t.Parallel()
	cases := []struct {
		status  int
		class   provider.Class
		billing provider.Billing
	}{
		{200, trans, possibly},
		{429, throttle, notBill},
		{500, trans, notBill},
		{502, trans, notBill},
		{503, trans, notBill},
		{301, creds, notBill},
		{302, creds, notBill},
		{401, creds, notBill},
		{403, creds, notBill},
		{404, creds, notBill},
		{405, creds, notBill},
		{400, unknown, notBill},
		{418, unknown, notBill},
	}
	for _, tc := range cases {
		if o := classifyHTTPStatus(tc.status); o.Class != tc.class || o.Billing != tc.billing {
			t.Errorf("classifyHTTPStatus(%d) = %s/%s, want %s/%s", tc.status, o.Class, o.Billing, tc.class, tc.billing)
		}
	}
}

// TestParseAnswer checks how every shape of answer is read.
func TestParseAnswer(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name    string
		action  string
		status  int
		date    string
		body    string
		answer  bool // a definitive *provider.Answer
		class   provider.Class
		code    string
		billing provider.Billing
		skew    time.Duration
	}{
		{name: "match", action: ActionIDCard, status: 200, body: `{"RequestId":"R","Code":"200","Message":"success","ResultObject":{"BizCode":"1"}}`,
			answer: true, class: match, code: "1", billing: billed},
		{name: "numeric Code", action: ActionIDCard, status: 200, body: `{"Code":200,"ResultObject":{"BizCode":2}}`,
			answer: true, class: mismatch, code: "2", billing: billed},
		{name: "mobile3 with IspName", action: ActionMobile3, status: 200, body: `{"Code":"200","ResultObject":{"BizCode":"3","IspName":"CMCC"}}`,
			answer: true, class: noRecord, code: "3", billing: possibly},
		{name: "bank card lost", action: ActionBankCard, status: 200, body: `{"Code":"200","ResultObject":{"BizCode":"2","SubCode":"210"}}`,
			answer: true, class: unusable, code: "2/210", billing: billed},
		{name: "bank cannot verify", action: ActionBankCard, status: 200, body: `{"Code":"200","ResultObject":{"BizCode":"3","SubCode":"305"}}`,
			answer: true, class: noRecord, code: "3/305", billing: notBill},
		{name: "empty SubCode", action: ActionBankCard, status: 200, body: `{"Code":"200","ResultObject":{"BizCode":"1","SubCode":""}}`,
			answer: true, class: match, code: "1", billing: billed},
		{name: "null SubCode", action: ActionBankCard, status: 200, body: `{"Code":"200","ResultObject":{"BizCode":"1","SubCode":null}}`,
			answer: true, class: match, code: "1", billing: billed},
		{name: "repeated calls: identity limit is an answer", action: ActionMobile3, status: 200, body: `{"Code":"403","Message":"异常重复调用"}`,
			answer: true, class: idLimit, code: "403", billing: notBill},
		{name: "unknown BizCode", action: ActionIDCard, status: 200, body: `{"Code":"200","ResultObject":{"BizCode":"9"}}`,
			class: unknown, code: "9", billing: possibly},
		{name: "Code 200 without ResultObject", action: ActionIDCard, status: 200, body: `{"Code":"200","Message":"success"}`,
			class: trans, code: "200", billing: possibly},
		{name: "Code 200 under HTTP 500", action: ActionIDCard, status: 500, body: `{"Code":"200","ResultObject":{"BizCode":"1"}}`,
			class: trans, code: "http 500", billing: notBill},
		{name: "service 401", action: ActionIDCard, status: 200, body: `{"Code":"401","Message":"参数非法"}`,
			class: badReq, code: "401", billing: notBill},
		{name: "service 412", action: ActionIDCard, status: 200, body: `{"Code":412,"Message":"欠费中"}`,
			class: creds, code: "412", billing: notBill},
		{name: "unknown service code", action: ActionIDCard, status: 200, body: `{"Code":"499"}`,
			class: unknown, code: "499", billing: notBill},
		{name: "gateway signature", action: ActionIDCard, status: 400, body: `{"RequestId":"R","Code":"SignatureDoesNotMatch","Message":"Specified signature is not matched","Recommend":"https://x"}`,
			class: creds, code: "SignatureDoesNotMatch", billing: notBill},
		{name: "gateway timestamp with Date", action: ActionIDCard, status: 400, date: now.Add(20 * time.Minute).Format(http.TimeFormat),
			body: `{"Code":"InvalidTimeStamp.Expired"}`, class: creds, code: "InvalidTimeStamp.Expired", billing: notBill, skew: 20 * time.Minute},
		{name: "gateway timestamp without Date", action: ActionIDCard, status: 400,
			body: `{"Code":"InvalidTimeStamp.Expired"}`, class: creds, code: "InvalidTimeStamp.Expired", billing: notBill},
		{name: "gateway timestamp with a bad Date", action: ActionIDCard, status: 400, date: "yesterday",
			body: `{"Code":"InvalidTimeStamp.Expired"}`, class: creds, code: "InvalidTimeStamp.Expired", billing: notBill},
		{name: "gateway replay", action: ActionIDCard, status: 400, body: `{"Code":"SignatureNonceUsed"}`,
			class: replay, code: "SignatureNonceUsed", billing: notBill},
		{name: "gateway throttled", action: ActionBankCard, status: 400, body: `{"Code":"Throttling.User"}`,
			class: throttle, code: "Throttling.User", billing: notBill},
		{name: "gateway 503", action: ActionBankCard, status: 503, body: `{"Code":"ServiceUnavailable"}`,
			class: trans, code: "ServiceUnavailable", billing: notBill},
		{name: "unknown gateway code", action: ActionBankCard, status: 400, body: `{"Code":"Something.New"}`,
			class: unknown, code: "Something.New", billing: notBill},
		{name: "HTML 502", action: ActionIDCard, status: 502, body: `<html>bad gateway</html>`,
			class: trans, code: "http 502", billing: notBill},
		{name: "empty 503", action: ActionIDCard, status: 503, class: trans, code: "http 503", billing: notBill},
		{name: "garbage 200", action: ActionIDCard, status: 200, body: `<html>ok</html>`,
			class: trans, code: "http 200", billing: possibly},
		{name: "JSON 200 without Code", action: ActionIDCard, status: 200, body: `{"RequestId":"R"}`,
			class: trans, code: "http 200", billing: possibly},
		{name: "Code of the wrong type", action: ActionIDCard, status: 200, body: `{"Code":{"a":1}}`,
			class: trans, code: "http 200", billing: possibly},
		{name: "redirect", action: ActionIDCard, status: 302, class: creds, code: "http 302", billing: notBill},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ans, err := parseAnswer(answerIn{action: tc.action, status: tc.status, date: tc.date, now: now, body: []byte(tc.body)})
			if tc.answer {
				if err != nil {
					t.Fatalf("want an answer, got %v", err)
				}
				if ans.Provider != Name || ans.Action != tc.action || ans.Class != tc.class || ans.Code != tc.code || ans.Billing != tc.billing || ans.Message == "" {
					t.Fatalf("answer %+v, want %s %s %s", ans, tc.class, tc.code, tc.billing)
				}
				return
			}
			if ans != nil {
				t.Fatalf("want an error, got answer %+v", ans)
			}
			var pe *provider.Error
			if !errors.As(err, &pe) {
				t.Fatalf("want *provider.Error, got %T %v", err, err)
			}
			if pe.Provider != Name || pe.Action != tc.action || pe.Class != tc.class || pe.Code != tc.code || pe.Billing != tc.billing || pe.ClockSkew != tc.skew {
				t.Fatalf("error %+v, want %s %s %s skew %s", pe, tc.class, tc.code, tc.billing, tc.skew)
			}
		})
	}
}

// TestErrorMessagesHoldNoPersonalData: cloudauth's messages may echo a
// parameter; the request's own values and long digit runs never reach an
// error string.
func TestErrorMessagesHoldNoPersonalData(t *testing.T) {
	t.Parallel()
	const (
		name = "张三丰"
		id   = "11010519491231002X"
	)
	body := `{"RequestId":"R-1","Code":"InvalidParameter","Message":"UserName 张三丰 or IdentifyNum 11010519491231002X or card 6222021234567890123 is invalid"}`
	_, err := parseAnswer(answerIn{action: ActionBankCard, status: 400, body: []byte(body), redact: []string{name, id, "", "secret"}})
	if provider.ClassOf(err) != badReq {
		t.Fatalf("class %s (%v)", provider.ClassOf(err), err)
	}
	msg := err.Error()
	for _, leak := range []string{name, id, "6222021234567890123", "1101051949"} {
		if strings.Contains(msg, leak) {
			t.Errorf("%q leaks %q", msg, leak)
		}
	}
	for _, want := range []string{"aliyun", "BankMetaVerify", "InvalidParameter", "bad_request", "R-1"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q lacks %q", msg, want)
		}
	}
}

func FuzzParseAnswer(f *testing.F) {
	for _, s := range []string{
		`{"Code":"200","ResultObject":{"BizCode":"1"}}`,
		`{"Code":200,"ResultObject":{"BizCode":"2","SubCode":"201"}}`,
		`{"Code":"200","ResultObject":null}`,
		`{"Code":"403"}`,
		`{"Code":"InvalidTimeStamp.Expired","Message":"x"}`,
		`{"Code":"SignatureNonceUsed"}`,
		`<html></html>`,
		``,
	} {
		f.Add(uint16(200), s)
		f.Add(uint16(400), s)
	}
	f.Fuzz(func(t *testing.T, status uint16, body string) {
		for _, action := range []string{ActionIDCard, ActionMobile3, ActionMobile3Detail, ActionBankCard} {
			ans, err := parseAnswer(answerIn{action: action, status: int(status), date: "Mon, 02 Jan 2006 15:04:05 GMT", now: time.Now(), body: []byte(body)})
			if (ans == nil) == (err == nil) {
				t.Fatalf("answer %+v and error %v", ans, err)
			}
			if err != nil {
				var pe *provider.Error
				if !errors.As(err, &pe) {
					t.Fatalf("error of type %T", err)
				}
				if pe.Class.Definitive() && pe.Class != badReq {
					t.Fatalf("definitive class %s in an error", pe.Class)
				}
				continue
			}
			// A definitive answer only comes from a code the tables know.
			if !ans.Class.Definitive() {
				t.Fatalf("answer with class %s", ans.Class)
			}
			if o, ok := ClassifyBizCode(action, ans.Code); ok {
				if int(status) != http.StatusOK || o.Class != ans.Class {
					t.Fatalf("answer %+v from HTTP %d", ans, status)
				}
			} else if o, ok := ClassifyErrorCode(ans.Code); !ok || o.Class != ans.Class {
				t.Fatalf("answer %+v from a code no table knows", ans)
			}
			if ans.Class == match && !strings.HasPrefix(ans.Code, "1") {
				t.Fatalf("match from code %q", ans.Code)
			}
		}
	})
}

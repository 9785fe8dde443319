package tencentv3

import (
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/realname-io/realname/internal/provider"
)

const requestID = "ed93f3cb-f35e-473f-b9f3-0d451b8b79c6"

// TestParseAnswer checks how every shape of answer is read.
func TestParseAnswer(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		action  string
		status  int
		body    string
		class   provider.Class
		billing provider.Billing
		code    string
		msg     string // a substring the message must hold
		wantErr bool
	}{
		{name: "match", action: ActionIDCard, body: `{"Response":{"Result":"0","Description":"姓名和身份证号一致","RequestId":"` + requestID + `"}}`,
			class: provider.ClassMatch, billing: billed, code: "0", msg: "一致"},
		{name: "mismatch", action: ActionIDCard, body: `{"Response":{"Result":"-1","Description":"姓名和身份证号不一致"}}`,
			class: provider.ClassMismatch, billing: billed, code: "-1"},
		{name: "no record is definitive and free", action: ActionIDCard, body: `{"Response":{"Result":"-5","Description":"证件库中无此身份证记录"}}`,
			class: provider.ClassNoRecord, billing: notBilled, code: "-5"},
		{name: "detailed phone mismatch", action: ActionPhone, body: `{"Response":{"Result":"-4","Description":"三要素信息不一致","Isp":"移动","ResultDetail":"PhoneNameMismatch"}}`,
			class: provider.ClassMismatch, billing: billed, code: "-4", msg: "PhoneNameMismatch"},
		{name: "description missing: the table's", action: ActionBankCard4, body: `{"Response":{"Result":"-13"}}`,
			class: provider.ClassCardUnusable, billing: billed, code: "-13", msg: "lost"},
		{name: "busy is a transient error, free", action: ActionPhone, body: `{"Response":{"Result":"-11","Description":"验证中心服务繁忙","RequestId":"` + requestID + `"}}`,
			class: provider.ClassTransient, billing: notBilled, code: "-11", msg: requestID, wantErr: true},
		{name: "unknown result, never a match", action: ActionBankCard3, body: `{"Response":{"Result":"-99","Description":"?"}}`,
			class: provider.ClassUnknown, billing: provider.PossiblyBilled, code: "-99", wantErr: true},
		{name: "empty result", action: ActionIDCard, body: `{"Response":{"Result":""}}`,
			class: provider.ClassUnknown, billing: provider.PossiblyBilled, wantErr: true},
		{name: "error answer", action: ActionIDCard, body: `{"Response":{"Error":{"Code":"AuthFailure.SecretIdNotFound","Message":"The SecretId is not found"},"RequestId":"` + requestID + `"}}`,
			class: provider.ClassCredentials, billing: notBilled, code: "AuthFailure.SecretIdNotFound", msg: requestID, wantErr: true},
		{name: "error wins over a result", action: ActionIDCard, body: `{"Response":{"Result":"0","Error":{"Code":"InternalError","Message":"x"}}}`,
			class: provider.ClassTransient, billing: notBilled, code: "InternalError", wantErr: true},
		{name: "throttled", action: ActionBankCard4, body: `{"Response":{"Error":{"Code":"RequestLimitExceeded","Message":"slow down"}}}`,
			class: provider.ClassThrottled, billing: notBilled, code: "RequestLimitExceeded", wantErr: true},
		{name: "unknown error code", action: ActionIDCard, body: `{"Response":{"Error":{"Code":"FailedOperation.Whatever","Message":""}}}`,
			class: provider.ClassUnknown, billing: notBilled, code: "FailedOperation.Whatever", wantErr: true},
		{name: "error body on a 500", action: ActionIDCard, status: 500, body: `{"Response":{"Error":{"Code":"InternalError","Message":"x"}}}`,
			class: provider.ClassTransient, billing: notBilled, code: "InternalError", wantErr: true},
		{name: "502 html", action: ActionIDCard, status: 502, body: `<html>bad gateway</html>`,
			class: provider.ClassTransient, billing: notBilled, code: "http 502", wantErr: true},
		{name: "503 with a result is still a 503", action: ActionIDCard, status: 503, body: `{"Response":{"Result":"0"}}`,
			class: provider.ClassTransient, billing: notBilled, code: "http 503", wantErr: true},
		{name: "429", action: ActionIDCard, status: 429, body: ``,
			class: provider.ClassThrottled, billing: notBilled, code: "http 429", wantErr: true},
		{name: "403", action: ActionIDCard, status: 403, body: `forbidden`,
			class: provider.ClassCredentials, billing: notBilled, code: "http 403", wantErr: true},
		{name: "empty 200", action: ActionIDCard, body: ``,
			class: provider.ClassTransient, billing: provider.PossiblyBilled, code: "http 200", wantErr: true},
		{name: "html 200", action: ActionIDCard, body: `<html>portal</html>`,
			class: provider.ClassTransient, billing: provider.PossiblyBilled, code: "http 200", wantErr: true},
		{name: "v2 body", action: ActionIDCard, body: `{"code":0,"bspFivBody":{"authCode":"00"}}`,
			class: provider.ClassTransient, billing: provider.PossiblyBilled, code: "http 200", wantErr: true},
		{name: "numeric result is not v3", action: ActionIDCard, body: `{"Response":{"Result":0}}`,
			class: provider.ClassTransient, billing: provider.PossiblyBilled, code: "http 200", wantErr: true},
		{name: "null response", action: ActionIDCard, body: `{"Response":null}`,
			class: provider.ClassTransient, billing: provider.PossiblyBilled, code: "http 200", wantErr: true},
		{name: "neither result nor error", action: ActionIDCard, body: `{"Response":{"RequestId":"x"}}`,
			class: provider.ClassTransient, billing: provider.PossiblyBilled, code: "http 200", wantErr: true},
		{name: "error without code", action: ActionIDCard, body: `{"Response":{"Error":{"Message":"x"}}}`,
			class: provider.ClassTransient, billing: provider.PossiblyBilled, code: "http 200", wantErr: true},
		{name: "truncated", action: ActionIDCard, body: `{"Response":{"Result":"0"`,
			class: provider.ClassTransient, billing: provider.PossiblyBilled, code: "http 200", wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			status := tc.status
			if status == 0 {
				status = http.StatusOK
			}
			ans, err := parseAnswer(tc.action, status, "", time.Now(), []byte(tc.body))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			var class provider.Class
			var billing provider.Billing
			var code, msg string
			if err != nil {
				var pe *provider.Error
				if !errors.As(err, &pe) {
					t.Fatalf("error %T is not a *provider.Error", err)
				}
				if ans != nil {
					t.Fatal("answer and error both set")
				}
				class, billing, code, msg = pe.Class, pe.Billing, pe.Code, pe.Message
				if pe.Provider != Name || pe.Action != tc.action {
					t.Fatalf("error names %s %s", pe.Provider, pe.Action)
				}
			} else {
				if !ans.Class.Definitive() {
					t.Fatalf("answer with class %s", ans.Class)
				}
				class, billing, code, msg = ans.Class, ans.Billing, ans.Code, ans.Message
				if ans.Provider != Name || ans.Action != tc.action {
					t.Fatalf("answer names %s %s", ans.Provider, ans.Action)
				}
			}
			if class != tc.class || billing != tc.billing || code != tc.code {
				t.Fatalf("got %s/%s code %q, want %s/%s code %q", class, billing, code, tc.class, tc.billing, tc.code)
			}
			if !strings.Contains(msg, tc.msg) {
				t.Fatalf("message %q lacks %q", msg, tc.msg)
			}
		})
	}
}

// TestClockSkew checks the skew measured from the Date header of an
// AuthFailure.SignatureExpire answer, and that other codes carry none.
func TestClockSkew(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	expired := []byte(`{"Response":{"Error":{"Code":"AuthFailure.SignatureExpire","Message":"signature expired"}}}`)
	cases := []struct {
		name string
		body []byte
		date string
		want time.Duration
	}{
		{"we are 7 minutes behind", expired, now.Add(7 * time.Minute).Format(http.TimeFormat), 7 * time.Minute},
		{"we are 10 minutes ahead", expired, now.Add(-10 * time.Minute).Format(http.TimeFormat), -10 * time.Minute},
		{"no Date header", expired, "", 0},
		{"unreadable Date header", expired, "yesterday", 0},
		{"other codes carry none", []byte(`{"Response":{"Error":{"Code":"AuthFailure.SignatureFailure","Message":"x"}}}`),
			now.Add(time.Hour).Format(http.TimeFormat), 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := parseAnswer(ActionIDCard, http.StatusOK, tc.date, now, tc.body)
			var pe *provider.Error
			if !errors.As(err, &pe) || pe.Class != provider.ClassCredentials {
				t.Fatalf("want a credentials *provider.Error, got %v", err)
			}
			if pe.ClockSkew != tc.want {
				t.Fatalf("ClockSkew = %s, want %s", pe.ClockSkew, tc.want)
			}
			if tc.want != 0 && !strings.Contains(pe.Error(), "NTP") {
				t.Fatalf("error %q does not say to check the clock", pe.Error())
			}
		})
	}
}

// TestMessagesScrubbed checks that digit runs in Tencent's text, and a
// RequestId that is not one, never reach an error.
func TestMessagesScrubbed(t *testing.T) {
	t.Parallel()
	body := `{"Response":{"Error":{"Code":"InvalidParameterValue","Message":"IdCard 11010519491231002X, Phone 13812345678, card 6222021234567890128"},"RequestId":"110105194912310021"}}`
	_, err := parseAnswer(ActionBankCard4, http.StatusOK, "", time.Now(), []byte(body))
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, leak := range []string{"11010519491231002", "13812345678", "6222021234567890128", "110105194912310021"} {
		if strings.Contains(msg, leak) {
			t.Fatalf("%q leaks %s", msg, leak)
		}
	}
	long := `{"Response":{"Result":"` + strings.Repeat("13812345678", 20) + `"}}`
	_, err = parseAnswer(ActionIDCard, http.StatusOK, "", time.Now(), []byte(long))
	if err == nil || strings.Contains(err.Error(), "1381234") || len(err.Error()) > 400 {
		t.Fatalf("unknown Result not scrubbed or bounded: %v", err)
	}
}

var digitRun = regexp.MustCompile(`[0-9]{7,}`)

// FuzzParseAnswer feeds arbitrary bodies to the answer parser: it must not
// panic, a definitive class must come from a known Result of the action's
// table, and no message may hold a long digit run.
func FuzzParseAnswer(f *testing.F) {
	f.Add(200, []byte(`{"Response":{"Result":"0","Description":"ok","RequestId":"`+requestID+`"}}`))
	f.Add(200, []byte(`{"Response":{"Error":{"Code":"AuthFailure.SignatureExpire","Message":"m"}}}`))
	f.Add(200, []byte(`{"Response":{"Result":0}}`))
	f.Add(500, []byte(`{"Response":{"Result":"0"}}`))
	f.Add(200, []byte(`{"response":{"result":"-1","Description":"13812345678"}}`))
	f.Add(302, []byte{})
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 100 || status > 999 {
			return // net/http gives three-digit statuses only
		}
		for _, action := range []string{ActionIDCard, ActionPhone, ActionBankCard3, ActionBankCard4} {
			ans, err := parseAnswer(action, status, "Mon, 02 Jan 2006 15:04:05 GMT", time.Now(), body)
			if err == nil {
				if ans == nil || !ans.Class.Definitive() {
					t.Fatalf("nil error without a definitive answer: %+v", ans)
				}
				row, ok := resultTables[action][ans.Code]
				if !ok || row.Class != ans.Class || row.Billing != ans.Billing {
					t.Fatalf("definitive %s from code %q outside the table", ans.Class, ans.Code)
				}
				if status != http.StatusOK {
					t.Fatalf("definitive answer from HTTP %d", status)
				}
				if digitRun.MatchString(ans.Message) {
					t.Fatalf("message %q holds a digit run", ans.Message)
				}
				continue
			}
			var pe *provider.Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *provider.Error", err)
			}
			if pe.Class.Definitive() && pe.Class != provider.ClassBadRequest {
				t.Fatalf("error with definitive class %s", pe.Class)
			}
			if digitRun.MatchString(pe.Message) || digitRun.MatchString(pe.Code) {
				t.Fatalf("error %q holds a digit run", pe.Error())
			}
		}
	})
}

package tencentv2

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/realname-io/realname/internal/provider"
	"github.com/realname-io/realname/internal/provider/transport"
)

// TestClassifyAuthCode has one row per authCode of the guide's table, so a
// change to any mapping fails here by name.
func TestClassifyAuthCode(t *testing.T) {
	t.Parallel()
	cases := []struct {
		code string
		want provider.Class
	}{
		{"00", provider.ClassMatch},
		{"01", provider.ClassMismatch},
		{"03", provider.ClassInvalidCard},
		{"05", provider.ClassMismatch},
		{"06", provider.ClassMismatch},
		{"07", provider.ClassCardUnusable},
		{"09", provider.ClassCardUnusable},
		{"10", provider.ClassBadRequest},
		{"12", provider.ClassInvalidCard},
		{"13", provider.ClassInvalidCard},
		{"14", provider.ClassCardUnusable},
		{"15", provider.ClassCardUnusable},
		{"16", provider.ClassCardUnusable},
		{"17", provider.ClassCardUnusable},
		{"18", provider.ClassCardUnusable},
		{"19", provider.ClassCardUnusable},
		{"23", provider.ClassCardUnusable},
		{"98", provider.ClassMismatch},
		{"99", provider.ClassBadRequest},
		// Codes the table does not know are never a match.
		{"02", provider.ClassUnknown},
		{"0", provider.ClassUnknown},
		{"000", provider.ClassUnknown},
		{"", provider.ClassUnknown},
		{" 00", provider.ClassUnknown},
	}
	if got, want := len(cases)-5, len(authCodeClasses); got != want {
		t.Fatalf("%d known rows tested, table has %d", got, want)
	}
	for _, tc := range cases {
		t.Run("authCode="+tc.code, func(t *testing.T) {
			t.Parallel()
			got := ClassifyAuthCode(tc.code)
			if got != tc.want {
				t.Fatalf("ClassifyAuthCode(%q) = %s, want %s", tc.code, got, tc.want)
			}
			if tc.want == provider.ClassUnknown && got.Definitive() {
				t.Fatalf("unknown authCode %q treated as definitive", tc.code)
			}
		})
	}
}

// TestClassifyGatewayCode has one row per gateway code of
// spec/tencent-v2-errors.md.
func TestClassifyGatewayCode(t *testing.T) {
	t.Parallel()
	cases := []struct {
		code int
		want provider.Class
	}{
		{4000, provider.ClassBadRequest},
		{4100, provider.ClassCredentials},
		{4101, provider.ClassCredentials},
		{4102, provider.ClassCredentials},
		{4103, provider.ClassCredentials},
		{4104, provider.ClassCredentials},
		{4105, provider.ClassCredentials},
		{4106, provider.ClassCredentials},
		{4110, provider.ClassCredentials},
		{4200, provider.ClassReplay},
		{4300, provider.ClassCredentials},
		{4400, provider.ClassThrottled},
		{4500, provider.ClassReplay},
		{4600, provider.ClassCredentials},
		{5000, provider.ClassBadRequest},
		{5100, provider.ClassTransient},
		{5200, provider.ClassTransient},
		{5300, provider.ClassCredentials},
		{5400, provider.ClassTransient},
		{5500, provider.ClassCredentials},
		{6000, provider.ClassTransient},
		{6100, provider.ClassCredentials},
		{6200, provider.ClassTransient},
		// Unknown codes.
		{4999, provider.ClassUnknown},
		{-1, provider.ClassUnknown},
		{1, provider.ClassUnknown},
	}
	if got, want := len(cases)-3, len(gatewayCodeClasses); got != want {
		t.Fatalf("%d known rows tested, table has %d", got, want)
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint("code=", tc.code), func(t *testing.T) {
			t.Parallel()
			if got := ClassifyGatewayCode(tc.code); got != tc.want {
				t.Fatalf("ClassifyGatewayCode(%d) = %s, want %s", tc.code, got, tc.want)
			}
		})
	}
}

func TestClassifyHTTPStatus(t *testing.T) {
	t.Parallel()
	cases := []struct {
		status int
		want   provider.Class
	}{
		{429, provider.ClassThrottled},
		{500, provider.ClassTransient},
		{502, provider.ClassTransient},
		{503, provider.ClassTransient},
		{504, provider.ClassTransient},
		{401, provider.ClassCredentials},
		{403, provider.ClassCredentials},
		{404, provider.ClassCredentials},
		{405, provider.ClassCredentials},
		{301, provider.ClassUnknown},
		{400, provider.ClassUnknown},
	}
	for _, tc := range cases {
		if got := classifyHTTPStatus(tc.status); got != tc.want {
			t.Errorf("classifyHTTPStatus(%d) = %s, want %s", tc.status, got, tc.want)
		}
	}
}

func TestClassPredicates(t *testing.T) {
	t.Parallel()
	cases := []struct {
		c          provider.Class
		definitive bool
		retryable  bool
	}{
		{provider.ClassMatch, true, false},
		{provider.ClassMismatch, true, false},
		{provider.ClassInvalidCard, true, false},
		{provider.ClassCardUnusable, true, false},
		{provider.ClassBadRequest, true, false},
		{provider.ClassCredentials, false, false},
		{provider.ClassReplay, false, true},
		{provider.ClassTransient, false, true},
		{provider.ClassThrottled, false, true},
		{provider.ClassUnknown, false, true},
	}
	for _, tc := range cases {
		if got := tc.c.Definitive(); got != tc.definitive {
			t.Errorf("%s.Definitive() = %v", tc.c, got)
		}
		if got := tc.c.Retryable(); got != tc.retryable {
			t.Errorf("%s.Retryable() = %v", tc.c, got)
		}
		if got, err := provider.ParseClass(string(tc.c)); err != nil || got != tc.c {
			t.Errorf("provider.ParseClass(%s) = %s, %v", tc.c, got, err)
		}
	}
	if _, err := provider.ParseClass("nope"); err == nil {
		t.Error("ParseClass accepted an unknown class")
	}
}

// TestParseAnswer checks how every shape of answer body is read.
func TestParseAnswer(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		body      string
		wantClass provider.Class
		wantErr   bool
		wantCode  int
		billed    bool
	}{
		{name: "match", body: `{"code":0,"codeDesc":"Success","message":"No Error","bspFivBody":{"authCode":"00","authMessage":"认证通过"}}`, wantClass: provider.ClassMatch},
		{name: "mismatch", body: `{"code":0,"bspFivBody":{"authCode":"01","authMessage":"姓名校验不通过"}}`, wantClass: provider.ClassMismatch},
		{name: "card unusable", body: `{"code":0,"bspFivBody":{"authCode":"16","authMessage":"此卡已挂失"}}`, wantClass: provider.ClassCardUnusable},
		{name: "unknown authCode is an error, never a match", body: `{"code":0,"bspFivBody":{"authCode":"77","authMessage":"?"}}`, wantClass: provider.ClassUnknown, wantErr: true},
		{name: "gateway code as number", body: `{"code":4100,"codeDesc":"AuthFailure","message":"signature wrong"}`, wantClass: provider.ClassCredentials, wantErr: true, wantCode: 4100},
		{name: "gateway code as string", body: `{"code":"5100","message":"(100004) try again"}`, wantClass: provider.ClassTransient, wantErr: true, wantCode: 5100},
		{name: "replay", body: `{"code":4500,"message":"replay"}`, wantClass: provider.ClassReplay, wantErr: true, wantCode: 4500},
		{name: "quota", body: `{"code":4400,"message":"over limit"}`, wantClass: provider.ClassThrottled, wantErr: true, wantCode: 4400},
		{name: "unknown gateway code", body: `{"code":7777}`, wantClass: provider.ClassUnknown, wantErr: true, wantCode: 7777},
		{name: "empty body", body: ``, wantClass: provider.ClassTransient, wantErr: true, billed: true},
		{name: "html body", body: `<html>502</html>`, wantClass: provider.ClassTransient, wantErr: true, billed: true},
		{name: "code 0 without body", body: `{"code":0}`, wantClass: provider.ClassTransient, wantErr: true, billed: true},
		{name: "code not a number", body: `{"code":"x"}`, wantClass: provider.ClassTransient, wantErr: true, billed: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res, err := parseAnswer(ActionIDCardAuth, []byte(tc.body))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err != nil {
				if got := ClassOf(err); got != tc.wantClass {
					t.Fatalf("ClassOf = %s, want %s (%v)", got, tc.wantClass, err)
				}
				if PossiblyBilled(err) != tc.billed {
					t.Fatalf("PossiblyBilled = %v, want %v", PossiblyBilled(err), tc.billed)
				}
				var apiErr *APIError
				if tc.wantCode != 0 && (!errors.As(err, &apiErr) || apiErr.Code != tc.wantCode) {
					t.Fatalf("want *APIError with code %d, got %v", tc.wantCode, err)
				}
				return
			}
			if res.Class != tc.wantClass || !res.Class.Definitive() {
				t.Fatalf("class = %s, want %s", res.Class, tc.wantClass)
			}
		})
	}
}

func TestAPIErrorMessage(t *testing.T) {
	t.Parallel()
	err := &APIError{Action: ActionIDCardAuth, Code: 4104, Message: transport.Scrub("SecretId 11010519491231002X not found"), Class: provider.ClassCredentials}
	msg := err.Error()
	for _, want := range []string{"BspIdCardAuth", "4104", "credentials", "enabled"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "11010519491231002") {
		t.Errorf("digits leaked: %q", msg)
	}
}

func FuzzParseAnswer(f *testing.F) {
	f.Add([]byte(`{"code":0,"bspFivBody":{"authCode":"00","authMessage":"ok"}}`))
	f.Add([]byte(`{"code":"4100"}`))
	f.Add([]byte(`{"code":0,"bspFivBody":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := parseAnswer(ActionMobileAuth3, body)
		if err == nil {
			if res == nil || !res.Class.Definitive() {
				t.Fatalf("nil error without a definitive result: %+v", res)
			}
			if res.Class == provider.ClassMatch && res.AuthCode != "00" {
				t.Fatalf("match from authCode %q", res.AuthCode)
			}
			return
		}
		if ClassOf(err) == provider.ClassMatch {
			t.Fatal("error classified as match")
		}
	})
}

package tencent

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestClassifyAuthCode has one row per authCode of the guide's table, so a
// change to any mapping fails here by name.
func TestClassifyAuthCode(t *testing.T) {
	t.Parallel()
	cases := []struct {
		code string
		want Class
	}{
		{"00", ClassMatch},
		{"01", ClassMismatch},
		{"03", ClassInvalidCard},
		{"05", ClassMismatch},
		{"06", ClassMismatch},
		{"07", ClassCardUnusable},
		{"09", ClassCardUnusable},
		{"10", ClassBadRequest},
		{"12", ClassInvalidCard},
		{"13", ClassInvalidCard},
		{"14", ClassCardUnusable},
		{"15", ClassCardUnusable},
		{"16", ClassCardUnusable},
		{"17", ClassCardUnusable},
		{"18", ClassCardUnusable},
		{"19", ClassCardUnusable},
		{"23", ClassCardUnusable},
		{"98", ClassMismatch},
		{"99", ClassBadRequest},
		// Codes the table does not know are never a match.
		{"02", ClassUnknown},
		{"0", ClassUnknown},
		{"000", ClassUnknown},
		{"", ClassUnknown},
		{" 00", ClassUnknown},
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
			if tc.want == ClassUnknown && got.Definitive() {
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
		want Class
	}{
		{4000, ClassBadRequest},
		{4100, ClassCredentials},
		{4101, ClassCredentials},
		{4102, ClassCredentials},
		{4103, ClassCredentials},
		{4104, ClassCredentials},
		{4105, ClassCredentials},
		{4106, ClassCredentials},
		{4110, ClassCredentials},
		{4200, ClassReplay},
		{4300, ClassCredentials},
		{4400, ClassThrottled},
		{4500, ClassReplay},
		{4600, ClassCredentials},
		{5000, ClassBadRequest},
		{5100, ClassTransient},
		{5200, ClassTransient},
		{5300, ClassCredentials},
		{5400, ClassTransient},
		{5500, ClassCredentials},
		{6000, ClassTransient},
		{6100, ClassCredentials},
		{6200, ClassTransient},
		// Unknown codes.
		{4999, ClassUnknown},
		{-1, ClassUnknown},
		{1, ClassUnknown},
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
		want   Class
	}{
		{429, ClassThrottled},
		{500, ClassTransient},
		{502, ClassTransient},
		{503, ClassTransient},
		{504, ClassTransient},
		{401, ClassCredentials},
		{403, ClassCredentials},
		{404, ClassCredentials},
		{405, ClassCredentials},
		{301, ClassUnknown},
		{400, ClassUnknown},
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
		c          Class
		definitive bool
		retryable  bool
	}{
		{ClassMatch, true, false},
		{ClassMismatch, true, false},
		{ClassInvalidCard, true, false},
		{ClassCardUnusable, true, false},
		{ClassBadRequest, true, false},
		{ClassCredentials, false, false},
		{ClassReplay, false, true},
		{ClassTransient, false, true},
		{ClassThrottled, false, true},
		{ClassUnknown, false, true},
	}
	for _, tc := range cases {
		if got := tc.c.Definitive(); got != tc.definitive {
			t.Errorf("%s.Definitive() = %v", tc.c, got)
		}
		if got := tc.c.Retryable(); got != tc.retryable {
			t.Errorf("%s.Retryable() = %v", tc.c, got)
		}
		if got, err := ParseClass(string(tc.c)); err != nil || got != tc.c {
			t.Errorf("ParseClass(%s) = %s, %v", tc.c, got, err)
		}
	}
	if _, err := ParseClass("nope"); err == nil {
		t.Error("ParseClass accepted an unknown class")
	}
}

// TestParseAnswer checks how every shape of answer body is read.
func TestParseAnswer(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		body      string
		wantClass Class
		wantErr   bool
		wantCode  int
		billed    bool
	}{
		{name: "match", body: `{"code":0,"codeDesc":"Success","message":"No Error","bspFivBody":{"authCode":"00","authMessage":"认证通过"}}`, wantClass: ClassMatch},
		{name: "mismatch", body: `{"code":0,"bspFivBody":{"authCode":"01","authMessage":"姓名校验不通过"}}`, wantClass: ClassMismatch},
		{name: "card unusable", body: `{"code":0,"bspFivBody":{"authCode":"16","authMessage":"此卡已挂失"}}`, wantClass: ClassCardUnusable},
		{name: "unknown authCode is an error, never a match", body: `{"code":0,"bspFivBody":{"authCode":"77","authMessage":"?"}}`, wantClass: ClassUnknown, wantErr: true},
		{name: "gateway code as number", body: `{"code":4100,"codeDesc":"AuthFailure","message":"signature wrong"}`, wantClass: ClassCredentials, wantErr: true, wantCode: 4100},
		{name: "gateway code as string", body: `{"code":"5100","message":"(100004) try again"}`, wantClass: ClassTransient, wantErr: true, wantCode: 5100},
		{name: "replay", body: `{"code":4500,"message":"replay"}`, wantClass: ClassReplay, wantErr: true, wantCode: 4500},
		{name: "quota", body: `{"code":4400,"message":"over limit"}`, wantClass: ClassThrottled, wantErr: true, wantCode: 4400},
		{name: "unknown gateway code", body: `{"code":7777}`, wantClass: ClassUnknown, wantErr: true, wantCode: 7777},
		{name: "empty body", body: ``, wantClass: ClassTransient, wantErr: true, billed: true},
		{name: "html body", body: `<html>502</html>`, wantClass: ClassTransient, wantErr: true, billed: true},
		{name: "code 0 without body", body: `{"code":0}`, wantClass: ClassTransient, wantErr: true, billed: true},
		{name: "code not a number", body: `{"code":"x"}`, wantClass: ClassTransient, wantErr: true, billed: true},
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
	err := &APIError{Action: ActionIDCardAuth, Code: 4104, Message: scrub("SecretId 11010519491231002X not found"), Class: ClassCredentials}
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
			if res.Class == ClassMatch && res.AuthCode != "00" {
				t.Fatalf("match from authCode %q", res.AuthCode)
			}
			return
		}
		if ClassOf(err) == ClassMatch {
			t.Fatal("error classified as match")
		}
	})
}

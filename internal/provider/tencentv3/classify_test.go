package tencentv3

import (
	"fmt"
	"strings"
	"testing"

	"github.com/realname-io/realname/internal/provider"
)

type resultCase struct {
	code    string
	class   provider.Class
	billing provider.Billing
}

// Shorthands keep one row per line.
const (
	billed    = provider.Billed
	notBilled = provider.NotBilled
)

// resultCases holds, per action, one row per Result code of the SDK's
// models.go, with the billing of Tencent's 按结果计费 lists.
var resultCases = map[string][]resultCase{
	ActionIDCard: {
		{"0", provider.ClassMatch, billed},
		{"-1", provider.ClassMismatch, billed},
		{"-2", provider.ClassBadRequest, notBilled},
		{"-3", provider.ClassBadRequest, notBilled},
		{"-4", provider.ClassTransient, notBilled},
		{"-5", provider.ClassNoRecord, notBilled},
		{"-6", provider.ClassTransient, notBilled},
		{"-7", provider.ClassIdentityLimit, notBilled},
	},
	ActionPhone: {
		{"0", provider.ClassMatch, billed},
		{"-4", provider.ClassMismatch, billed},
		{"-6", provider.ClassBadRequest, notBilled},
		{"-7", provider.ClassBadRequest, notBilled},
		{"-8", provider.ClassBadRequest, notBilled},
		{"-9", provider.ClassNoRecord, notBilled},
		{"-11", provider.ClassTransient, notBilled},
		{"-12", provider.ClassIdentityLimit, notBilled},
		{"-13", provider.ClassNoRecord, notBilled},
	},
	ActionBankCard3: {
		{"0", provider.ClassMatch, billed},
		{"-1", provider.ClassMismatch, billed},
		{"-2", provider.ClassBadRequest, notBilled},
		{"-3", provider.ClassBadRequest, notBilled},
		{"-4", provider.ClassInvalidCard, notBilled},
		{"-5", provider.ClassMismatch, billed},
		{"-6", provider.ClassCardUnusable, billed},
		{"-7", provider.ClassCardUnusable, billed},
		{"-8", provider.ClassInvalidCard, billed},
		{"-9", provider.ClassInvalidCard, billed},
		{"-10", provider.ClassCardUnusable, billed},
		{"-11", provider.ClassCardUnusable, billed},
		{"-12", provider.ClassCardUnusable, billed},
		{"-13", provider.ClassCardUnusable, billed},
		{"-14", provider.ClassCardUnusable, billed},
		{"-15", provider.ClassCardUnusable, billed},
		{"-16", provider.ClassCardUnusable, billed},
		{"-17", provider.ClassTransient, notBilled},
		{"-18", provider.ClassIdentityLimit, notBilled},
		{"-19", provider.ClassNoRecord, notBilled},
		{"-20", provider.ClassCardUnusable, billed},
	},
	ActionBankCard4: {
		{"0", provider.ClassMatch, billed},
		{"-1", provider.ClassMismatch, billed},
		{"-2", provider.ClassBadRequest, notBilled},
		{"-3", provider.ClassBadRequest, notBilled},
		{"-4", provider.ClassInvalidCard, notBilled},
		{"-5", provider.ClassBadRequest, notBilled},
		{"-6", provider.ClassMismatch, billed},
		{"-7", provider.ClassCardUnusable, billed},
		{"-8", provider.ClassCardUnusable, billed},
		{"-9", provider.ClassInvalidCard, billed},
		{"-10", provider.ClassInvalidCard, billed},
		{"-11", provider.ClassCardUnusable, billed},
		{"-12", provider.ClassCardUnusable, billed},
		{"-13", provider.ClassCardUnusable, billed},
		{"-14", provider.ClassCardUnusable, billed},
		{"-15", provider.ClassCardUnusable, billed},
		{"-16", provider.ClassCardUnusable, billed},
		{"-17", provider.ClassCardUnusable, billed},
		{"-18", provider.ClassTransient, notBilled},
		{"-19", provider.ClassIdentityLimit, notBilled},
		{"-20", provider.ClassNoRecord, notBilled},
		{"-21", provider.ClassCardUnusable, billed},
	},
}

// TestClassifyResult has one row per Result code of every action, so a
// change to any mapping fails here by name.
func TestClassifyResult(t *testing.T) {
	t.Parallel()
	if len(resultCases) != len(resultTables) {
		t.Fatalf("%d actions tested, %d tables", len(resultCases), len(resultTables))
	}
	for action, cases := range resultCases {
		if got, want := len(cases), len(resultTables[action]); got != want {
			t.Fatalf("%s: %d rows tested, table has %d", action, got, want)
		}
		for _, tc := range cases {
			t.Run(action+"/Result="+tc.code, func(t *testing.T) {
				t.Parallel()
				row := ClassifyResult(action, tc.code)
				if row.Class != tc.class || row.Billing != tc.billing {
					t.Fatalf("ClassifyResult(%s, %q) = %s/%s, want %s/%s", action, tc.code, row.Class, row.Billing, tc.class, tc.billing)
				}
				if row.Description == "" {
					t.Fatal("row has no description")
				}
				// Billed answers are ones Tencent looked at: always final.
				if row.Billing == provider.Billed && !row.Class.Definitive() {
					t.Fatalf("billed code %s is not definitive", tc.code)
				}
			})
		}
	}
}

// TestClassifyResultUnknown checks that codes outside a table, including a
// code of another action's table, are unknown and possibly billed: never a
// match.
func TestClassifyResultUnknown(t *testing.T) {
	t.Parallel()
	cases := []struct{ action, code string }{
		{ActionIDCard, "-8"},
		{ActionIDCard, "00"},
		{ActionIDCard, " 0"},
		{ActionIDCard, ""},
		{ActionPhone, "-1"}, // a mismatch in the other actions, not in this one
		{ActionPhone, "-10"},
		{ActionBankCard3, "-21"},
		{ActionBankCard4, "-22"},
		{ActionBankCard4, "+0"},
		{"NoSuchAction", "0"},
	}
	for _, tc := range cases {
		t.Run(tc.action+"/Result="+tc.code, func(t *testing.T) {
			t.Parallel()
			row := ClassifyResult(tc.action, tc.code)
			if row.Class != provider.ClassUnknown || row.Billing != provider.PossiblyBilled || row.Class.Definitive() {
				t.Fatalf("ClassifyResult(%s, %q) = %+v, want unknown, possibly billed", tc.action, tc.code, row)
			}
		})
	}
}

// TestBankCardTablesDiffer pins the shift between the 3- and 4-element
// numbering that makes a shared table wrong.
func TestBankCardTablesDiffer(t *testing.T) {
	t.Parallel()
	if ClassifyResult(ActionBankCard3, "-5").Class != provider.ClassMismatch ||
		ClassifyResult(ActionBankCard4, "-5").Class != provider.ClassBadRequest {
		t.Fatal("-5 is cardholder information wrong in BankCardVerification, an invalid phone in BankCard4EVerification")
	}
}

// TestClassifyError has one row per error code of the table.
func TestClassifyError(t *testing.T) {
	t.Parallel()
	cases := []struct {
		code     string
		class    provider.Class
		hintWant string // a word the hint must contain; "" for no hint
	}{
		{"AuthFailure.SignatureFailure", provider.ClassCredentials, "SecretKey"},
		{"AuthFailure.SignatureExpire", provider.ClassCredentials, "NTP"},
		{"AuthFailure.SecretIdNotFound", provider.ClassCredentials, "SecretId"},
		{"AuthFailure.InvalidSecretId", provider.ClassCredentials, "SecretId"},
		{"AuthFailure.TokenFailure", provider.ClassCredentials, "token"},
		{"AuthFailure.InvalidAuthorization", provider.ClassCredentials, "Authorization"},
		{"AuthFailure.UnauthorizedOperation", provider.ClassCredentials, "CAM"},
		{"AuthFailure.MFAFailure", provider.ClassCredentials, "MFA"},
		{"RequestLimitExceeded", provider.ClassThrottled, ""},
		{"InternalError", provider.ClassTransient, ""},
		{"LimitExceeded", provider.ClassCredentials, "package"},
		{"NoSuchVersion", provider.ClassCredentials, "endpoint"},
		{"InvalidParameter", provider.ClassBadRequest, ""},
		{"InvalidParameterValue", provider.ClassBadRequest, ""},
		{"MissingParameter", provider.ClassBadRequest, ""},
		{"UnknownParameter", provider.ClassBadRequest, ""},
		{"InvalidAction", provider.ClassCredentials, "endpoint"},
		{"ActionOffline", provider.ClassCredentials, "offline"},
		{"UnsupportedProtocol", provider.ClassCredentials, "https"},
		{"UnsupportedRegion", provider.ClassCredentials, "Region"},
		{"FailedOperation.UnKnown", provider.ClassTransient, ""},
		{"FailedOperation.DecryptSystemError", provider.ClassTransient, ""},
		{"FailedOperation.StsUnAuthErrError", provider.ClassCredentials, "STS"},
		{"InvalidParameter.UnsupportEncryptField", provider.ClassBadRequest, ""},
		{"UnauthorizedOperation.Arrears", provider.ClassCredentials, "arrears"},
		{"UnauthorizedOperation.ChargeStatusException", provider.ClassCredentials, "billing"},
		{"UnauthorizedOperation.NonAuthorize", provider.ClassCredentials, "real-name"},
		{"UnauthorizedOperation.Nonactivated", provider.ClassCredentials, "activate"},
		{"UnauthorizedOperation.ActivateError", provider.ClassCredentials, "activation"},
		{"UnauthorizedOperation.Activating", provider.ClassCredentials, "activated"},
	}
	if got, want := len(cases), len(errorCodes); got != want {
		t.Fatalf("%d rows tested, table has %d", got, want)
	}
	for _, tc := range cases {
		t.Run(tc.code, func(t *testing.T) {
			t.Parallel()
			row := ClassifyError(tc.code)
			if row.Class != tc.class {
				t.Fatalf("ClassifyError(%q) = %s, want %s", tc.code, row.Class, tc.class)
			}
			if tc.hintWant == "" && row.Hint != "" {
				t.Fatalf("hint %q for a code nobody needs to act on", row.Hint)
			}
			if !strings.Contains(row.Hint, tc.hintWant) {
				t.Fatalf("hint %q lacks %q", row.Hint, tc.hintWant)
			}
			// Every code a person must fix tells them what to check.
			if row.Class == provider.ClassCredentials && row.Hint == "" {
				t.Fatal("credentials code without a hint")
			}
		})
	}
}

// TestClassifyErrorFamilies has one row per family fallback, and checks
// that codes outside every family are unknown.
func TestClassifyErrorFamilies(t *testing.T) {
	t.Parallel()
	cases := []struct {
		code  string
		class provider.Class
	}{
		{"AuthFailure.SomethingNew", provider.ClassCredentials},
		{"UnauthorizedOperation.SomethingNew", provider.ClassCredentials},
		{"RequestLimitExceeded.UinLimitExceeded", provider.ClassThrottled},
		{"InternalError.SomethingNew", provider.ClassTransient},
	}
	if got, want := len(cases), len(errorFamilies); got != want {
		t.Fatalf("%d families tested, table has %d", got, want)
	}
	unknown := []string{"", "FailedOperation.IdNoExistSystem", "authfailure.signaturefailure", "AuthFailure", "Nope", "InvalidParameterValue.X"}
	for _, tc := range cases {
		t.Run(tc.code, func(t *testing.T) {
			t.Parallel()
			row := ClassifyError(tc.code)
			if row.Class != tc.class {
				t.Fatalf("ClassifyError(%q) = %s, want %s", tc.code, row.Class, tc.class)
			}
			if row.Class == provider.ClassCredentials && row.Hint == "" {
				t.Fatal("credentials family without a hint")
			}
		})
	}
	for _, code := range unknown {
		if row := ClassifyError(code); row.Class != provider.ClassUnknown {
			t.Errorf("ClassifyError(%q) = %s, want unknown", code, row.Class)
		}
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
		{301, provider.ClassCredentials},
		{302, provider.ClassCredentials},
		{400, provider.ClassUnknown},
		{201, provider.ClassUnknown},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			t.Parallel()
			row := classifyHTTPStatus(tc.status)
			if row.Class != tc.want {
				t.Fatalf("classifyHTTPStatus(%d) = %s, want %s", tc.status, row.Class, tc.want)
			}
			if row.Class == provider.ClassCredentials && row.Hint == "" {
				t.Fatal("credentials status without a hint")
			}
		})
	}
}

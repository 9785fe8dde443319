package provider_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/realname-io/realname/internal/provider"
)

func TestErrorMessage(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		err  *provider.Error
		want string
	}{
		{"code and hint", &provider.Error{Provider: "aliyun", Action: "Id2MetaVerify", Code: "NoPermission", Class: provider.ClassCredentials,
			Message: "no permission", Hint: "check the RAM policy"},
			"aliyun Id2MetaVerify: NoPermission (credentials): no permission — check the RAM policy"},
		{"possibly billed, no answer", &provider.Error{Provider: "tencent-v3", Action: "IdCardVerification", Class: provider.ClassTransient,
			Billing: provider.PossiblyBilled, Err: context.DeadlineExceeded},
			"tencent-v3 IdCardVerification (transient, possibly_billed): context deadline exceeded"},
		{"clock behind", &provider.Error{Provider: "tencent-v3", Action: "IdCardVerification", Code: "AuthFailure.SignatureExpire",
			Class: provider.ClassCredentials, ClockSkew: 10 * time.Minute},
			"tencent-v3 IdCardVerification: AuthFailure.SignatureExpire (credentials); this machine's clock is 10m0s behind the provider's"},
		{"clock ahead", &provider.Error{Provider: "aliyun", Action: "Id2MetaVerify", Code: "InvalidTimeStamp.Expired",
			Class: provider.ClassCredentials, ClockSkew: -20 * time.Minute},
			"aliyun Id2MetaVerify: InvalidTimeStamp.Expired (credentials); this machine's clock is 20m0s ahead of the provider's"},
	}
	for _, tc := range cases {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

func TestClassAndBillingOf(t *testing.T) {
	t.Parallel()
	pe := &provider.Error{Class: provider.ClassThrottled, Billing: provider.NotBilled}
	cases := []struct {
		name    string
		err     error
		class   provider.Class
		billing provider.Billing
	}{
		{"nil", nil, "", provider.NotBilled},
		{"provider error", pe, provider.ClassThrottled, provider.NotBilled},
		{"wrapped", fmt.Errorf("call: %w", pe), provider.ClassThrottled, provider.NotBilled},
		{"context", context.Canceled, provider.ClassTransient, provider.PossiblyBilled},
		{"anything else", errors.New("boom"), provider.ClassUnknown, provider.PossiblyBilled},
	}
	for _, tc := range cases {
		if got := provider.ClassOf(tc.err); got != tc.class {
			t.Errorf("%s: ClassOf = %s, want %s", tc.name, got, tc.class)
		}
		if got := provider.BillingOf(tc.err); got != tc.billing {
			t.Errorf("%s: BillingOf = %s, want %s", tc.name, got, tc.billing)
		}
	}
}

func TestClasses(t *testing.T) {
	t.Parallel()
	definitive := 0
	for _, c := range provider.Classes {
		if c.Definitive() {
			definitive++
			if c.Retryable() {
				t.Errorf("%s is both definitive and retryable", c)
			}
		} else if !c.Retryable() && c != provider.ClassCredentials {
			t.Errorf("%s is neither definitive nor retryable", c)
		}
		if got, err := provider.ParseClass(string(c)); err != nil || got != c {
			t.Errorf("ParseClass(%s) = %s, %v", c, got, err)
		}
		if strings.ToLower(string(c)) != string(c) {
			t.Errorf("class %q is not lower case", c)
		}
	}
	if definitive != 7 {
		t.Fatalf("%d definitive classes, want 7", definitive)
	}
	if _, err := provider.ParseClass("nope"); err == nil {
		t.Fatal("ParseClass accepted an unknown class")
	}
}

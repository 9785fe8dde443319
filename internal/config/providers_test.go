package config

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/realname-io/realname/internal/provider"
)

func bindProviders(t *testing.T, e map[string]string, args ...string) *Providers {
	t.Helper()
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	c, errf := BindProviders(fs, env(e))
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	if err := errf(); err != nil {
		t.Fatal(err)
	}
	return c
}

// creds are the credentials of every provider.
var creds = map[string]string{
	"REALNAME_TENCENT_SECRET_ID": "AKIDx", "REALNAME_TENCENT_SECRET_KEY": "k",
	"REALNAME_ALIYUN_ACCESS_KEY_ID": "LTAIx", "REALNAME_ALIYUN_ACCESS_KEY_SECRET": "s",
}

func with(m map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func TestProviderRoutes(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want map[provider.Kind][2]string
	}{
		{"default: v2 alone", nil, nil, map[provider.Kind][2]string{
			provider.KindIDCard: {"tencent-v2", ""}, provider.KindBankCard4: {"tencent-v2", ""}}},
		{"v3 with aliyun as fallback", map[string]string{"REALNAME_PROVIDER": "tencent-v3", "REALNAME_PROVIDER_FALLBACK": "aliyun"}, nil,
			map[provider.Kind][2]string{provider.KindIDCard: {"tencent-v3", "aliyun"}, provider.KindMobile3: {"tencent-v3", "aliyun"}}},
		{"per kind", map[string]string{"REALNAME_PROVIDER": "tencent-v3", "REALNAME_PROVIDER_FALLBACK": "aliyun",
			"REALNAME_PROVIDER_BANKCARD4": "aliyun", "REALNAME_PROVIDER_FALLBACK_MOBILE3": "none"}, nil,
			map[provider.Kind][2]string{provider.KindIDCard: {"tencent-v3", "aliyun"}, provider.KindMobile3: {"tencent-v3", ""},
				provider.KindBankCard4: {"aliyun", ""}}},
		{"flags win", map[string]string{"REALNAME_PROVIDER": "tencent-v3"}, []string{"--provider", "aliyun", "--provider-fallback", "tencent-v3"},
			map[provider.Kind][2]string{provider.KindBankCard3: {"aliyun", "tencent-v3"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			routes, err := bindProviders(t, tc.env, tc.args...).Routes()
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range tc.want {
				if routes[k] != want {
					t.Errorf("%s: %v, want %v", k, routes[k], want)
				}
			}
		})
	}
}

// TestProviderErrorsNameTheSetting: a provider without credentials, or an
// unknown name, fails at start with the setting to fix.
func TestProviderErrorsNameTheSetting(t *testing.T) {
	cases := []struct {
		name, want string
		env        map[string]string
	}{
		{"unknown provider", `"tencent-v4"`, with(creds, "REALNAME_PROVIDER", "tencent-v4")},
		{"unknown fallback of a kind", `"ali"`, with(creds, "REALNAME_PROVIDER_FALLBACK_IDCARD", "ali")},
		{"v3 without a SecretId", "REALNAME_TENCENT_SECRET_ID", map[string]string{"REALNAME_PROVIDER": "tencent-v3"}},
		{"aliyun fallback without a key", "REALNAME_ALIYUN_ACCESS_KEY_ID",
			with(creds, "REALNAME_PROVIDER_FALLBACK", "aliyun", "REALNAME_ALIYUN_ACCESS_KEY_ID", "")},
		{"aliyun without its secret", "REALNAME_ALIYUN_ACCESS_KEY_SECRET",
			with(creds, "REALNAME_PROVIDER", "aliyun", "REALNAME_ALIYUN_ACCESS_KEY_SECRET", "")},
		{"bad aliyun method", "method", with(creds, "REALNAME_PROVIDER", "aliyun", "REALNAME_ALIYUN_METHOD", "PUT")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := bindProviders(t, tc.env).RouterConfig()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to name %s", err, tc.want)
			}
			if strings.Contains(err.Error(), "\"k\"") || strings.Contains(err.Error(), "=s") {
				t.Fatalf("err reveals a secret: %v", err)
			}
		})
	}
}

func TestRouterConfigBuildsEachProviderOnce(t *testing.T) {
	rc, err := bindProviders(t, with(creds, "REALNAME_PROVIDER", "tencent-v3", "REALNAME_PROVIDER_FALLBACK", "aliyun",
		"REALNAME_PROVIDER_BANKCARD3", "tencent-v2")).RouterConfig()
	if err != nil {
		t.Fatal(err)
	}
	if rc.Routes[provider.KindIDCard].Primary != rc.Routes[provider.KindMobile3].Primary {
		t.Fatal("one provider built twice")
	}
	if got := rc.Routes[provider.KindBankCard3].Primary.Name(); got != "tencent-v2" {
		t.Fatalf("bankcard3 primary %s", got)
	}
	if _, err := provider.NewRouter(rc); err != nil {
		t.Fatal(err)
	}
	if rc.Failures != 5 || rc.OpenFor.String() != "10s" {
		t.Fatalf("circuit defaults %d, %s", rc.Failures, rc.OpenFor)
	}
}

func TestQuotaOverrides(t *testing.T) {
	got, err := bindProviders(t, map[string]string{"REALNAME_QUOTA": "tencent-v3/IdCardVerification=50, aliyun/BankMetaVerify=30"}).QuotaOverrides()
	if err != nil || got["tencent-v3/IdCardVerification"] != 50 || got["aliyun/BankMetaVerify"] != 30 || len(got) != 2 {
		t.Fatalf("%v, %v", got, err)
	}
	for _, bad := range []string{"tencent-v3/IdCardVerification", "IdCardVerification=5", "tencent-v3/IdCardVerification=0", "a/b=x"} {
		if _, err := bindProviders(t, map[string]string{"REALNAME_QUOTA": bad}).QuotaOverrides(); err == nil || !strings.Contains(err.Error(), "REALNAME_QUOTA") {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}

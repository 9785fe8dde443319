package sandbox

import (
	"maps"
	"slices"
	"strconv"
	"testing"
)

// TestTencentV3Billing checks each action's billing table against the spec's
// lists, code by code.
func TestTencentV3Billing(t *testing.T) {
	t.Parallel()
	codes := func(from, to int) []string { // "-from" … "-to"
		var out []string
		for i := from; i <= to; i++ {
			out = append(out, "-"+strconv.Itoa(i))
		}
		return out
	}
	cases := []struct {
		action            string
		billed, notBilled []string
	}{
		{ActionIDCardVerification, []string{"0", "-1"}, codes(2, 7)},
		{ActionPhoneVerification, []string{"0", "-4"}, []string{"-6", "-7", "-8", "-9", "-11", "-12", "-13"}},
		{ActionBankCardVerification, append(append([]string{"0", "-1"}, codes(5, 16)...), "-20"), append(codes(2, 4), codes(17, 19)...)},
		{ActionBankCard4EVerification, append(append([]string{"0", "-1"}, codes(6, 17)...), "-21"), append(codes(2, 5), codes(18, 20)...)},
	}
	for _, tc := range cases {
		t.Run(tc.action, func(t *testing.T) {
			t.Parallel()
			all := append(slices.Clone(tc.billed), tc.notBilled...)
			if got := slices.Sorted(maps.Keys(tc3Results[tc.action])); !slices.Equal(got, slices.Sorted(slices.Values(all))) {
				t.Errorf("codes %v, want exactly %v", got, all)
			}
			for _, c := range all {
				desc, billed, ok := TencentV3ResultInfo(tc.action, c)
				if want := slices.Contains(tc.billed, c); !ok || billed != want || desc == "" {
					t.Errorf("%s: billed %v (known %v, %q), want %v", c, billed, ok, desc, want)
				}
			}
		})
	}
	if _, _, ok := TencentV3ResultInfo(ActionIDCardVerification, "-8"); ok {
		t.Error("IdCardVerification knows -8")
	}
}

// TestTranslateTencentV3 checks the translation table: every authCode of
// every action lands on a code of that action, and the rows carry the
// authCode's meaning.
func TestTranslateTencentV3(t *testing.T) {
	t.Parallel()
	for action := range tc3Kinds {
		for _, code := range authCodeList {
			r, ok := TranslateTencentV3(action, code)
			if _, _, known := TencentV3ResultInfo(action, r); !ok || !known {
				t.Errorf("%s %s → %q (%v), not a Result of the action", action, code, r, ok)
			}
		}
	}
	cases := []struct {
		action, authCode, want string
		billed                 bool
	}{
		{ActionIDCardVerification, "00", "0", true},
		{ActionIDCardVerification, "01", "-1", true},
		{ActionIDCardVerification, "05", "-1", true},
		{ActionIDCardVerification, "98", "-1", true},
		{ActionIDCardVerification, "12", "-1", true},
		{ActionIDCardVerification, "99", "-2", false},
		{ActionPhoneVerification, "00", "0", true},
		{ActionPhoneVerification, "01", "-4", true},
		{ActionPhoneVerification, "05", "-4", true},
		{ActionPhoneVerification, "98", "-4", true},
		{ActionPhoneVerification, "10", "-7", false},
		{ActionBankCardVerification, "00", "0", true},
		{ActionBankCardVerification, "01", "-1", true},
		{ActionBankCardVerification, "98", "-1", true},
		{ActionBankCardVerification, "03", "-4", false},
		{ActionBankCardVerification, "06", "-5", true},
		{ActionBankCardVerification, "07", "-6", true},
		{ActionBankCardVerification, "09", "-7", true},
		{ActionBankCardVerification, "12", "-8", true},
		{ActionBankCardVerification, "13", "-9", true},
		{ActionBankCardVerification, "14", "-10", true},
		{ActionBankCardVerification, "15", "-11", true},
		{ActionBankCardVerification, "16", "-12", true},
		{ActionBankCardVerification, "17", "-13", true},
		{ActionBankCardVerification, "18", "-14", true},
		{ActionBankCardVerification, "19", "-15", true},
		{ActionBankCardVerification, "23", "-16", true},
		{ActionBankCardVerification, "99", "-3", false},
		{ActionBankCard4EVerification, "00", "0", true},
		{ActionBankCard4EVerification, "05", "-1", true},
		{ActionBankCard4EVerification, "03", "-4", false},
		{ActionBankCard4EVerification, "06", "-6", true},
		{ActionBankCard4EVerification, "07", "-7", true},
		{ActionBankCard4EVerification, "09", "-8", true},
		{ActionBankCard4EVerification, "12", "-9", true},
		{ActionBankCard4EVerification, "13", "-10", true},
		{ActionBankCard4EVerification, "14", "-11", true},
		{ActionBankCard4EVerification, "15", "-12", true},
		{ActionBankCard4EVerification, "16", "-13", true},
		{ActionBankCard4EVerification, "17", "-14", true},
		{ActionBankCard4EVerification, "18", "-15", true},
		{ActionBankCard4EVerification, "19", "-16", true},
		{ActionBankCard4EVerification, "23", "-17", true},
		{ActionBankCard4EVerification, "10", "-3", false},
	}
	for _, tc := range cases {
		t.Run(tc.action+"/"+tc.authCode, func(t *testing.T) {
			t.Parallel()
			got, ok := TranslateTencentV3(tc.action, tc.authCode)
			_, billed, _ := TencentV3ResultInfo(tc.action, got)
			if !ok || got != tc.want || billed != tc.billed {
				t.Errorf("got %q (billed %v), want %q (billed %v)", got, billed, tc.want, tc.billed)
			}
		})
	}
	// The bank codes say what v2 says, word for word.
	for _, action := range []string{ActionBankCardVerification, ActionBankCard4EVerification} {
		for _, code := range []string{"03", "06", "07", "09", "12", "13", "14", "15", "16", "17", "18", "19", "23"} {
			r, _ := TranslateTencentV3(action, code)
			if desc, _, _ := TencentV3ResultInfo(action, r); desc != AuthMessage(code) && !(code == "03" && desc == "银行卡号码有误") {
				t.Errorf("%s %s (%s) → %s %q", action, code, AuthMessage(code), r, desc)
			}
		}
	}
	if _, ok := TranslateTencentV3("BspIdCardAuth", "00"); ok {
		t.Error("translates a v2 action")
	}
	if _, ok := TranslateTencentV3(ActionIDCardVerification, "42"); ok {
		t.Error("translates an unknown authCode")
	}
}

func TestTranslateAliyun(t *testing.T) {
	t.Parallel()
	for action := range rpcActions {
		for _, code := range authCodeList {
			a, ok := TranslateAliyun(action, code)
			if !ok || (a.Code != "200" && a.Code != "401") || (a.Code == "200" && a.BizCode == "") {
				t.Errorf("%s %s → %+v (%v)", action, code, a, ok)
			}
			if (action == ActionID2MetaVerify || action == ActionMobile3MetaSimpleVerify) && a.SubCode != "" {
				t.Errorf("%s reports SubCode %s", action, a.SubCode)
			}
		}
	}
	cases := []struct {
		action, authCode string
		want             AliyunAnswer
		billed           bool
	}{
		{ActionID2MetaVerify, "00", biz("1", ""), true},
		{ActionID2MetaVerify, "01", biz("2", ""), true},
		{ActionID2MetaVerify, "98", biz("2", ""), true},
		{ActionID2MetaVerify, "99", rpcInvalid, false},
		{ActionMobile3MetaSimpleVerify, "00", biz("1", ""), true},
		{ActionMobile3MetaSimpleVerify, "05", biz("2", ""), true},
		{ActionMobile3MetaDetailVerify, "00", biz("1", "101"), true},
		{ActionMobile3MetaDetailVerify, "01", biz("2", "203"), true},
		{ActionMobile3MetaDetailVerify, "05", biz("2", "204"), true},
		{ActionMobile3MetaDetailVerify, "98", biz("2", "201"), true},
		{ActionMobile3MetaDetailVerify, "10", rpcInvalid, false},
		{ActionBankMetaVerify, "00", biz("1", "101"), true},
		{ActionBankMetaVerify, "01", biz("2", "201"), true},
		{ActionBankMetaVerify, "05", biz("2", "201"), true},
		{ActionBankMetaVerify, "98", biz("2", "201"), true},
		{ActionBankMetaVerify, "03", biz("3", "304"), false},
		{ActionBankMetaVerify, "06", biz("2", "201"), true},
		{ActionBankMetaVerify, "07", biz("2", "202"), true},
		{ActionBankMetaVerify, "09", biz("2", "205"), true},
		{ActionBankMetaVerify, "12", biz("2", "206"), true},
		{ActionBankMetaVerify, "13", biz("2", "207"), true},
		{ActionBankMetaVerify, "14", biz("2", "208"), true},
		{ActionBankMetaVerify, "15", biz("2", "209"), true},
		{ActionBankMetaVerify, "16", biz("2", "210"), true},
		{ActionBankMetaVerify, "17", biz("2", "203"), true},
		{ActionBankMetaVerify, "18", biz("2", "204"), true},
		{ActionBankMetaVerify, "19", biz("2", "211"), true},
		{ActionBankMetaVerify, "23", biz("2", "212"), true},
		{ActionBankMetaVerify, "99", rpcInvalid, false},
	}
	for _, tc := range cases {
		t.Run(tc.action+"/"+tc.authCode, func(t *testing.T) {
			t.Parallel()
			got, ok := TranslateAliyun(tc.action, tc.authCode)
			if !ok || got != tc.want || AliyunBilled(tc.action, got) != tc.billed {
				t.Errorf("got %+v (billed %v), want %+v (billed %v)", got, AliyunBilled(tc.action, got), tc.want, tc.billed)
			}
		})
	}
	if _, ok := TranslateAliyun("IdCardVerification", "00"); ok {
		t.Error("translates a v3 action")
	}
}

func TestAliyunBilled(t *testing.T) {
	t.Parallel()
	cases := []struct {
		action string
		a      AliyunAnswer
		want   bool
	}{
		{ActionID2MetaVerify, biz("1", ""), true},
		{ActionID2MetaVerify, biz("2", ""), true},
		{ActionID2MetaVerify, biz("3", ""), true},
		{ActionMobile3MetaDetailVerify, biz("3", "301"), true},
		{ActionMobile3MetaSimpleVerify, biz("3", ""), true},
		{ActionBankMetaVerify, biz("1", "101"), true},
		{ActionBankMetaVerify, biz("2", "216"), true},
		{ActionBankMetaVerify, biz("3", "301"), false},
		{ActionBankMetaVerify, AliyunAnswer{Code: "500"}, false},
		{ActionID2MetaVerify, AliyunAnswer{Code: "401"}, false},
		{ActionID2MetaVerify, AliyunAnswer{Code: "402"}, false},
	}
	for _, tc := range cases {
		if got := AliyunBilled(tc.action, tc.a); got != tc.want {
			t.Errorf("AliyunBilled(%s, %+v) = %v, want %v", tc.action, tc.a, got, tc.want)
		}
	}
}

// TestSameMeaningEverywhere checks that the three protocols agree on what
// each authCode means: a pass is a pass, a billed mismatch is a billed
// mismatch, a parameter error is never billed.
func TestSameMeaningEverywhere(t *testing.T) {
	t.Parallel()
	v3ByKind := map[string]string{}
	for v3, kind := range tc3Kinds {
		v3ByKind[kind] = v3
	}
	rpcByKind := map[string]string{
		ActionIDCardAuth:    ActionID2MetaVerify,
		ActionMobileAuth3:   ActionMobile3MetaDetailVerify,
		ActionBankCard3Auth: ActionBankMetaVerify,
		ActionBankCardAuth4: ActionBankMetaVerify,
	}
	for _, kind := range actions {
		for _, code := range authCodeList {
			r, _ := TranslateTencentV3(v3ByKind[kind], code)
			_, v3Billed, _ := TencentV3ResultInfo(v3ByKind[kind], r)
			a, _ := TranslateAliyun(rpcByKind[kind], code)
			pass := code == "00"
			if (r == "0") != pass || (a.BizCode == "1") != pass {
				t.Errorf("%s %s: v3 %s, aliyun %+v disagree on passing", kind, code, r, a)
			}
			if paramErr := code == "10" || code == "99"; paramErr && (v3Billed || AliyunBilled(rpcByKind[kind], a)) {
				t.Errorf("%s %s: a parameter error is billed", kind, code)
			}
		}
	}
}

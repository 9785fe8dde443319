package sandbox

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSlidingWindow(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	steps := []struct {
		at   time.Duration
		want bool
	}{
		{0, true},
		{400 * ms, true},
		{800 * ms, true},
		{999 * ms, false},  // three in (−1 ms, 999 ms]
		{1000 * ms, true},  // the call at 0 is a second old
		{1001 * ms, false}, // 400, 800, 1000 are within the second
		{1399 * ms, false},
		{1400 * ms, true},
		{5 * time.Second, true},
		{5 * time.Second, true},
		{5 * time.Second, true},
		{5 * time.Second, false},
	}
	w := newSlidingWindow(3)
	for _, s := range steps {
		if got := w.admit(testEpoch.Add(s.at)); got != s.want {
			t.Errorf("at %v: admitted %v, want %v", s.at, got, s.want)
		}
	}
	if w.limit() != 3 {
		t.Errorf("limit %d", w.limit())
	}
}

func TestQuotasResolve(t *testing.T) {
	t.Parallel()
	doc := DocumentedQuotas()
	want := map[string]map[string]int{
		ProviderTencentV3: {ActionIDCardVerification: 100, ActionPhoneVerification: 20, ActionBankCardVerification: 20, ActionBankCard4EVerification: 20},
		ProviderAliyun:    {ActionID2MetaVerify: 50, ActionMobile3MetaSimpleVerify: 50, ActionMobile3MetaDetailVerify: 50, ActionBankMetaVerify: 50},
	}
	if !reflect.DeepEqual(doc, want) {
		t.Errorf("DocumentedQuotas = %v", doc)
	}
	doc[ProviderAliyun][ActionBankMetaVerify] = 1
	if DocumentedQuotas()[ProviderAliyun][ActionBankMetaVerify] != 50 {
		t.Error("DocumentedQuotas returns the table itself")
	}

	if got, err := (Quotas{Limits: map[string]map[string]int{ProviderAliyun: {ActionBankMetaVerify: 3}}}).resolve(); err != nil || !reflect.DeepEqual(got, [numProviders]map[string]int{}) {
		t.Errorf("disabled: %v, %v; want no limits", got, err)
	}
	got, err := Quotas{Enabled: true, Limits: map[string]map[string]int{
		ProviderTencentV3: {ActionIDCardVerification: 5, ActionPhoneVerification: 0},
	}}.resolve()
	if err != nil {
		t.Fatal(err)
	}
	if v3 := got[provTencentV3]; v3[ActionIDCardVerification] != 5 || v3[ActionBankCardVerification] != 20 || len(v3) != 3 {
		t.Errorf("tencent-v3 limits %v, want IdCard 5, Phone removed, the rest documented", v3)
	}
	if len(got[provAliyun]) != 4 || got[provTencentV2] != nil {
		t.Errorf("limits %v", got)
	}
}

func TestQuotasSetLimit(t *testing.T) {
	t.Parallel()
	var q Quotas
	for _, spec := range []string{"tencent-v3/IdCardVerification=5", " aliyun / BankMetaVerify = 0 "} {
		if err := q.SetLimit(spec); err != nil {
			t.Fatalf("SetLimit(%q): %v", spec, err)
		}
	}
	if want := map[string]map[string]int{ProviderTencentV3: {ActionIDCardVerification: 5}, ProviderAliyun: {ActionBankMetaVerify: 0}}; !reflect.DeepEqual(q.Limits, want) || q.Enabled {
		t.Errorf("Quotas = %+v", q)
	}
	for spec, wantErr := range map[string]string{
		"tencent-v3/IdCardVerification":      "provider/action=N",
		"IdCardVerification=5":               "provider/action=N",
		"tencent-v3/IdCardVerification=fast": "integer",
		"tencent-v3/IdCardVerification=-1":   "negative",
		"tencent-v2/BspIdCardAuth=5":         "QuotaRPS",
		"aliyun/IdCardVerification=5":        "no action",
		"alibaba/Id2MetaVerify=5":            "unknown provider",
	} {
		if err := q.SetLimit(spec); err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("SetLimit(%q) = %v, want an error about %s", spec, err, wantErr)
		}
	}
}

func TestQuotaTC3(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{Quotas: Quotas{Enabled: true, Limits: map[string]map[string]int{ProviderTencentV3: {ActionIDCardVerification: 3}}}})
	idc := func(i int) tc3Call {
		return tc3Call{action: ActionIDCardVerification, body: tc3Body(ActionIDCardVerification, fmt.Sprint("张", i), aliceID, "", "")}
	}
	for i := range 3 {
		b.tc3Result(t, idc(i))
	}
	refused := func(i int) {
		t.Helper()
		r := b.tc3(t, idc(i))
		if r.errorCode() != "RequestLimitExceeded" || !strings.Contains(r.Response.Error.Message, "3 per second") {
			t.Fatalf("call %d: got %+v, want RequestLimitExceeded", i, r.Response.Error)
		}
	}
	refused(3)
	b.clock.Add(999 * time.Millisecond)
	refused(4)
	// Another action has its own window (documented: 20 a second).
	for i := range 20 {
		b.tc3Result(t, tc3Call{action: ActionPhoneVerification, body: tc3Body(ActionPhoneVerification, fmt.Sprint("张", i), aliceID, "13800138000", "")})
	}
	b.clock.Add(time.Millisecond)
	b.tc3Result(t, idc(5))

	st := b.srv.Stats().Providers[ProviderTencentV3]
	if st.QuotaRefused != 2 || st.ByAnswer["error:RequestLimitExceeded"] != 2 || st.Billed != 24 || st.Calls != 26 {
		t.Errorf("stats %+v", st)
	}
	// 3 + 20 admitted within the first wall-clock second; the refusals
	// are not admitted.
	if st.MaxPerSecond != 23 {
		t.Errorf("MaxPerSecond %d, want 23", st.MaxPerSecond)
	}
}

func TestQuotaRPC(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{Quotas: Quotas{Enabled: true, Limits: map[string]map[string]int{ProviderAliyun: {ActionID2MetaVerify: 2}}}})
	id2 := func(i int) rpcCall {
		return rpcCall{action: ActionID2MetaVerify, business: rpcBusiness(ActionID2MetaVerify, fmt.Sprint("张", i), aliceID, "", "", false)}
	}
	b.rpcAnswerOf(t, id2(0))
	b.rpcAnswerOf(t, id2(1))
	if r := b.rpc(t, id2(2)); r.status != http.StatusBadRequest || r.Code != "Throttling.User" {
		t.Fatalf("over quota: HTTP %d %s, want 400 Throttling.User", r.status, r.Code)
	}
	b.rpcAnswerOf(t, rpcCall{action: ActionBankMetaVerify, business: rpcBusiness(ActionBankMetaVerify, "张三", aliceID, "", aliceCard, false)})
	b.clock.Add(time.Second)
	b.rpcAnswerOf(t, id2(3))
	if st := b.srv.Stats(); st.QuotaRefused != 1 || st.Providers[ProviderAliyun].ByAnswer["error:Throttling.User"] != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestQuotaDocumented runs into the documented limits, enabled with no
// override.
func TestQuotaDocumented(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{Quotas: Quotas{Enabled: true}})
	for i := range 100 {
		b.tc3Result(t, tc3Call{action: ActionIDCardVerification, body: tc3Body(ActionIDCardVerification, fmt.Sprint("张", i), aliceID, "", "")})
	}
	if r := b.tc3(t, tc3Call{action: ActionIDCardVerification, body: tc3Body(ActionIDCardVerification, "张三", aliceID, "", "")}); r.errorCode() != "RequestLimitExceeded" {
		t.Errorf("101st IdCardVerification: %+v", r.Response.Error)
	}
	for i := range 50 {
		b.rpcAnswerOf(t, rpcCall{action: ActionMobile3MetaDetailVerify, business: rpcBusiness(ActionMobile3MetaDetailVerify, fmt.Sprint("张", i), aliceID, "13800138000", "", false)})
	}
	if r := b.rpc(t, rpcCall{action: ActionMobile3MetaDetailVerify, business: rpcBusiness(ActionMobile3MetaDetailVerify, "张三", aliceID, "13800138000", "", false)}); r.Code != "Throttling.User" {
		t.Errorf("51st Mobile3MetaDetailVerify: HTTP %d %s", r.status, r.Code)
	}
	// Tencent v2 has no per-action quota.
	for i := range 120 {
		b.answer(t, call{action: ActionIDCardAuth, business: business(ActionIDCardAuth, fmt.Sprint("o", i), "张三", aliceID, "", "")})
	}
	if st := b.srv.Stats(); st.QuotaRefused != 2 {
		t.Errorf("QuotaRefused %d, want 2", st.QuotaRefused)
	}
}

// TestQuotaRPSPerProvider checks Faults.QuotaRPS on the protocols other than
// v2: it counts per provider.
func TestQuotaRPSPerProvider(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{TencentV3Faults: Faults{QuotaRPS: 1}, AliyunFaults: Faults{QuotaRPS: 1}})
	b.tc3Result(t, tc3Call{action: ActionIDCardVerification, body: tc3Body(ActionIDCardVerification, "张三", aliceID, "", "")})
	if r := b.tc3(t, tc3Call{action: ActionPhoneVerification, body: tc3Body(ActionPhoneVerification, "张三", aliceID, "13800138000", "")}); r.errorCode() != "RequestLimitExceeded" {
		t.Errorf("second v3 call: %+v", r.Response.Error)
	}
	b.rpcAnswerOf(t, rpcCall{action: ActionID2MetaVerify, business: rpcBusiness(ActionID2MetaVerify, "张三", aliceID, "", "", false)})
	if r := b.rpc(t, rpcCall{action: ActionID2MetaVerify, business: rpcBusiness(ActionID2MetaVerify, "张三", aliceID, "", "", false)}); r.Code != "Throttling.User" {
		t.Errorf("second aliyun call: %s", r.Code)
	}
}

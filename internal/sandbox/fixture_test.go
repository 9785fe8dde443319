package sandbox

import (
	"fmt"
	"strings"
	"testing"
)

func loadFixture(t *testing.T, lines ...string) *Fixture {
	t.Helper()
	f, err := LoadFixture(strings.NewReader(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatalf("LoadFixture: %v", err)
	}
	return f
}

// idEndingInX returns a valid ID number whose check character is X.
func idEndingInX(t *testing.T) string {
	t.Helper()
	for seq := range 1000 {
		id := withIDCheck(fmt.Sprintf("31010419750615%03d", seq))
		if id[17] == 'X' {
			return id
		}
	}
	t.Fatal("no ID ending in X")
	return ""
}

func TestFixtureAnswers(t *testing.T) {
	t.Parallel()
	xID := idEndingInX(t)
	fx := loadFixture(t,
		`{"name":"张三","idNumber":"`+aliceID+`","phoneNumber":"13800138000","bankCardNumber":"`+aliceCard+`","authCodes":{"BspIdCardAuth":"00","BspMobileAuth3":"05","BspBankCard3Auth":"14","BspBankCardAuth4":"17"}}`,
		``,
		`{"name":"李四","idNumber":"`+bobID+`","authCodes":{"BspIdCardAuth":"01"}}`,
		`{"name":"王五","idNumber":"`+strings.ToLower(xID)+`","phoneNumber":"0086-13900139000","authCodes":{"BspIdCardAuth":"98","BspMobileAuth3":"00"}}`,
	)
	if fx.Len() != 3 {
		t.Fatalf("Len = %d, want 3", fx.Len())
	}
	b := setup(t, Config{Fixture: fx})
	const phone, otherPhone = "13800138000", "13700137000"
	otherCard := bobCard
	cases := []struct {
		name   string
		action string
		p      Params
		want   string
	}{
		{"idcard", ActionIDCardAuth, Params{Name: "张三", IDNumber: aliceID}, "00"},
		{"mobile3", ActionMobileAuth3, Params{Name: "张三", IDNumber: aliceID, Phone: phone}, "05"},
		{"mobile3 with 0086-", ActionMobileAuth3, Params{Name: "张三", IDNumber: aliceID, Phone: "0086-" + phone}, "05"},
		{"bankcard3", ActionBankCard3Auth, Params{Name: "张三", IDNumber: aliceID, BankCard: aliceCard}, "14"},
		{"bankcard4", ActionBankCardAuth4, Params{Name: "张三", IDNumber: aliceID, BankCard: aliceCard, Phone: phone}, "17"},
		{"name differs idcard", ActionIDCardAuth, Params{Name: "张叁", IDNumber: aliceID}, "01"},
		{"name differs bankcard4", ActionBankCardAuth4, Params{Name: "张叁", IDNumber: aliceID, BankCard: aliceCard, Phone: phone}, "01"},
		{"phone differs mobile3", ActionMobileAuth3, Params{Name: "张三", IDNumber: aliceID, Phone: otherPhone}, "98"},
		{"phone differs bankcard4", ActionBankCardAuth4, Params{Name: "张三", IDNumber: aliceID, BankCard: aliceCard, Phone: otherPhone}, "06"},
		{"card differs bankcard3", ActionBankCard3Auth, Params{Name: "张三", IDNumber: aliceID, BankCard: otherCard}, "06"},
		{"card differs bankcard4", ActionBankCardAuth4, Params{Name: "张三", IDNumber: aliceID, BankCard: otherCard, Phone: phone}, "06"},
		{"scripted mismatch", ActionIDCardAuth, Params{Name: "李四", IDNumber: bobID}, "01"},
		{"X in fixture, X in request", ActionIDCardAuth, Params{Name: "王五", IDNumber: xID}, "98"},
		{"X in fixture, x in request", ActionIDCardAuth, Params{Name: "王五", IDNumber: strings.ToLower(xID)}, "98"},
		{"fixture phone with 0086-", ActionMobileAuth3, Params{Name: "王五", IDNumber: xID, Phone: "13900139000"}, "00"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := fx.Lookup(tc.action, tc.p)
			if !ok || got != tc.want {
				t.Errorf("Lookup = %q, %v; want %q, true", got, ok, tc.want)
			}
			served := b.answer(t, call{action: tc.action, business: business(tc.action, "o-"+tc.name, tc.p.Name, tc.p.IDNumber, tc.p.Phone, tc.p.BankCard)})
			if served != tc.want {
				t.Errorf("sandbox answered %s, want %s", served, tc.want)
			}
		})
	}

	// What the fixture does not know falls back to Expected.
	unknown := []struct {
		name   string
		action string
		p      Params
	}{
		{"unknown ID", ActionIDCardAuth, Params{Name: "赵六", IDNumber: withIDCheck("51010720000101123")}},
		{"no phone in the entry", ActionMobileAuth3, Params{Name: "李四", IDNumber: bobID, Phone: phone}},
		{"no card in the entry", ActionBankCard3Auth, Params{Name: "李四", IDNumber: bobID, BankCard: bobCard}},
		{"no code for the action", ActionBankCard3Auth, Params{Name: "王五", IDNumber: xID, BankCard: bobCard}},
	}
	for _, tc := range unknown {
		t.Run(tc.name, func(t *testing.T) {
			if got, ok := fx.Lookup(tc.action, tc.p); ok {
				t.Errorf("Lookup = %q, true; want not found", got)
			}
			served := b.answer(t, call{action: tc.action, business: business(tc.action, "o-"+tc.name, tc.p.Name, tc.p.IDNumber, tc.p.Phone, tc.p.BankCard)})
			if want := Expected(tc.action, tc.p); served != want {
				t.Errorf("sandbox answered %s, want Expected's %s", served, want)
			}
		})
	}

	var nilFixture *Fixture
	if _, ok := nilFixture.Lookup(ActionIDCardAuth, Params{Name: "张三", IDNumber: aliceID}); ok || nilFixture.Len() != 0 {
		t.Error("a nil Fixture knows someone")
	}
	if _, ok := fx.Lookup("BspNope", Params{Name: "张三", IDNumber: aliceID}); ok {
		t.Error("Lookup answers an unknown action")
	}
}

func TestLoadFixtureErrors(t *testing.T) {
	t.Parallel()
	good := `{"name":"张三","idNumber":"` + aliceID + `","authCodes":{"BspIdCardAuth":"00"}}`
	badID := aliceID[:17] + "Y"
	cases := []struct {
		name    string
		lines   []string
		wantErr string
		secret  string // must not appear in the error
	}{
		{"not JSON", []string{good, `{"name":`}, "line 2", ""},
		{"syntax", []string{`nonsense 张三`}, "line 1", "张三"},
		{"unknown field", []string{good, good[:1] + `"idNo":"x",` + good[1:]}, `line 2: not a fixture entry: unknown field "idNo"`, ""},
		{"wrong type", []string{`{"name":"张三","idNumber":12345678901234567}`}, "idNumber", "12345678901234567"},
		{"trailing data", []string{good + ` {}`}, "trailing", ""},
		{"missing name", []string{`{"idNumber":"` + aliceID + `","authCodes":{}}`}, "line 1: name is missing", ""},
		{"bad ID", []string{good, "", `{"name":"张三","idNumber":"` + badID + `","authCodes":{}}`}, "line 3: idNumber", badID},
		{"bad phone", []string{`{"name":"张三","idNumber":"` + aliceID + `","phoneNumber":"999","authCodes":{}}`}, "phoneNumber", ""},
		{"bad card", []string{`{"name":"张三","idNumber":"` + aliceID + `","bankCardNumber":"62xx","authCodes":{}}`}, "bankCardNumber", "62xx"},
		{"unknown action", []string{`{"name":"张三","idNumber":"` + aliceID + `","authCodes":{"BspFace":"00"}}`}, `unknown action "BspFace"`, ""},
		{"unknown code", []string{`{"name":"张三","idNumber":"` + aliceID + `","authCodes":{"BspIdCardAuth":"42"}}`}, `unknown authCode "42"`, ""},
		{"action needs phone", []string{`{"name":"张三","idNumber":"` + aliceID + `","authCodes":{"BspMobileAuth3":"00"}}`}, "needs phoneNumber", ""},
		{"action needs card", []string{`{"name":"张三","idNumber":"` + aliceID + `","authCodes":{"BspBankCard3Auth":"00"}}`}, "needs bankCardNumber", ""},
		{"duplicate ID", []string{good, good}, "line 2: idNumber repeats line 1", ""},
		{"duplicate ID with x", []string{good, strings.Replace(good, aliceID, strings.ToLower(aliceID), 1)}, "repeats line 1", ""},
		{"line too long", []string{strings.Repeat(" ", maxFixtureLine+1)}, "line 1: longer than", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := LoadFixture(strings.NewReader(strings.Join(tc.lines, "\n")))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
			}
			if tc.secret != "" && strings.Contains(err.Error(), tc.secret) {
				t.Errorf("error quotes the value: %v", err)
			}
			if strings.Contains(err.Error(), aliceID) {
				t.Errorf("error quotes an ID number: %v", err)
			}
		})
	}
}

func TestExpected(t *testing.T) {
	t.Parallel()
	const n = 10000
	for _, action := range actions {
		t.Run(action, func(t *testing.T) {
			t.Parallel()
			allowed := map[string]bool{"00": true}
			for _, c := range expectedFailures[action] {
				allowed[c] = true
			}
			counts := map[string]int{}
			for i := range n {
				p := Params{
					Name:     "测试" + string(rune('一'+i%500)),
					IDNumber: withIDCheck(fmt.Sprintf("4403051990%07d", i)),
					Phone:    fmt.Sprintf("139%08d", i),
					BankCard: withLuhn(fmt.Sprintf("6222%014d", i)),
				}
				code := Expected(action, p)
				if code != Expected(action, p) {
					t.Fatal("Expected is not deterministic")
				}
				if !allowed[code] {
					t.Fatalf("Expected gave %s, not an answer of %s", code, action)
				}
				counts[code]++
			}
			if pass := float64(counts["00"]) / n; pass < 0.77 || pass > 0.83 {
				t.Errorf("pass share %.3f, want about 0.80", pass)
			}
			for c := range allowed {
				if counts[c] == 0 {
					t.Errorf("code %s never given", c)
				}
			}
		})
	}
	// Only the fields an action checks matter.
	p := Params{Name: "张三", IDNumber: aliceID}
	q := p
	q.Phone, q.BankCard = "13800138000", aliceCard
	if Expected(ActionIDCardAuth, p) != Expected(ActionIDCardAuth, q) {
		t.Error("Expected(BspIdCardAuth) depends on the phone or the card")
	}
	lower := p
	lower.IDNumber = strings.ToLower(idEndingInX(t))
	upper := lower
	upper.IDNumber = strings.ToUpper(upper.IDNumber)
	if Expected(ActionIDCardAuth, lower) != Expected(ActionIDCardAuth, upper) {
		t.Error("Expected distinguishes x from X")
	}
	if Expected("BspNope", p) != "" {
		t.Error("Expected answers an unknown action")
	}
}

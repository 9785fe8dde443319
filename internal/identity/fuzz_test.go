package identity

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// checkParse holds the properties every parser must have, whatever the
// input: no panic; a failure is a *FieldError for field with a fixed reason
// that does not repeat the input; a success is already normalised, so parsing
// it again gives it back, and a personal value of 4 bytes or more never
// prints, masks or marshals to its raw form.
func checkParse[T ~string](t *testing.T, in, field string, parse func(string) (T, error)) {
	t.Helper()
	v, err := parse(in)
	if err != nil {
		requireFieldError(t, err, field, "", in)
		return
	}
	again, err := parse(string(v))
	if err != nil {
		t.Fatalf("re-parsing normalised %q: %v", string(v), err)
	}
	if again != v {
		t.Fatalf("re-parsing normalised %q gave %q", string(v), string(again))
	}
	p, ok := any(v).(personal)
	if !ok || len(v) < 4 {
		return
	}
	raw := p.Reveal()
	if p.Masked() == raw {
		t.Fatalf("Masked() of %q is the raw value", raw)
	}
	out := fmt.Sprintf("%v %s %+v %q %#v %x", v, v, v, v, v, v)
	if strings.Contains(out, raw) {
		t.Fatalf("formatting %q leaks it: %s", raw, out)
	}
	j, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	if strings.Contains(string(j), raw) {
		t.Fatalf("JSON of %q leaks it: %s", raw, j)
	}
}

func FuzzParseIDNumber(f *testing.F) {
	for _, s := range []string{
		"11010519491231002X",
		"11010519491231002x",
		" 11010519491231002X\u3000",
		idWithCheck("83000019800101001"),
		idWithCheck("31010120000229002"),
		idWithCheck("11010120250616001"),
		idWithCheck("91010519491231002"),
		idWithCheck("11010519900230002"),
		"11010519491231003X",
		"110105491231002",
		"１１０１０５１９４９１２３１００２Ｘ",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		checkParse(t, in, FieldIDNumber, ParseIDNumber)
	})
}

func FuzzParseName(f *testing.F) {
	for _, s := range []string{
		"张三", "张三丰", "阿依古丽·买买提", "阿依古丽•买买提", "阿依古丽･买买提",
		"\u3000张三 ", "张", "·张三", "张··三", "张3丰", "Zhang San", "张\u200b三",
		"张\xff三", strings.Repeat("张", 21), "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		checkParse(t, in, FieldName, ParseName)
	})
}

func FuzzParsePhone(f *testing.F) {
	for _, s := range []string{
		"13812345678", "138 1234 5678", "(+86) 138-1234-5678", "0086 13812345678",
		"8613812345678", "861381234567", "12812345678", "+1 415 555 1234",
		"１３８１２３４５６７８", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		checkParse(t, in, FieldPhone, ParsePhone)
	})
}

func FuzzParseBankCard(f *testing.F) {
	for _, s := range []string{
		"4111111111111111", "4111 1111 1111 1111", "4111-1111-1111-1111",
		cardWithCheck("622202123456789012"), cardWithCheck("62220212345"),
		"4111111111111112", cardWithCheck("4111111111"), "4111_1111_1111_1111", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		checkParse(t, in, FieldBankCard, ParseBankCard)
	})
}

func FuzzParseOrderNo(f *testing.F) {
	for _, s := range []string{
		"A", "Order_2025-06.15:a9Z", " ORD1 ", strings.Repeat("a", 64),
		strings.Repeat("a", 65), "ORD 1", "订单号一", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		checkParse(t, in, FieldOrderNo, ParseOrderNo)
	})
}

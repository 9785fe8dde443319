package identity

import (
	"strings"
	"testing"
)

func TestParseBankCard(t *testing.T) {
	t.Parallel()
	card19 := cardWithCheck("622202123456789012")
	card12 := cardWithCheck("62220212345")
	cases := []struct {
		name string
		in   string
		want BankCard
	}{
		{name: "16 digits", in: "4111111111111111", want: "4111111111111111"},
		{name: "grouped by spaces", in: "4111 1111 1111 1111", want: "4111111111111111"},
		{name: "grouped by hyphens", in: "4111-1111-1111-1111", want: "4111111111111111"},
		{name: "surrounding white space", in: "\t4111111111111111\u3000", want: "4111111111111111"},
		{name: "19 digits", in: card19, want: BankCard(card19)},
		{name: "12 digits", in: card12, want: BankCard(card12)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseBankCard(tc.in)
			if err != nil {
				t.Fatalf("ParseBankCard: %v", err)
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got.Reveal(), tc.want.Reveal())
			}
		})
	}
}

func TestParseBankCardInvalid(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		in     string
		reason string
	}{
		{name: "empty", in: "", reason: reasonCardEmpty},
		{name: "only separators", in: " - - ", reason: reasonCardEmpty},
		{name: "Luhn failure", in: "4111111111111112", reason: reasonCardLuhn},
		{name: "11 digits", in: cardWithCheck("4111111111"), reason: reasonCardLength},
		{name: "20 digits", in: cardWithCheck(strings.Repeat("4", 19)), reason: reasonCardLength},
		{name: "letter", in: "4111111111111a11", reason: reasonCardChars},
		{name: "underscore", in: "4111_1111_1111_1111", reason: reasonCardChars},
		{name: "full-width digits", in: "４１１１１１１１１１１１１１１１", reason: reasonCardChars},
		{name: "negative", in: "+4111111111111111", reason: reasonCardChars},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseBankCard(tc.in)
			if err == nil {
				t.Fatalf("ParseBankCard = %q, want error", got.Reveal())
			}
			requireFieldError(t, err, FieldBankCard, tc.reason, tc.in)
		})
	}
}

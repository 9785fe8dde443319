package identity

import "testing"

func TestParsePhone(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   string
		want Phone
	}{
		{name: "bare", in: "13812345678", want: "13812345678"},
		{name: "spaces", in: "138 1234 5678", want: "13812345678"},
		{name: "hyphens", in: "138-1234-5678", want: "13812345678"},
		{name: "surrounding white space", in: "\t13812345678\u3000", want: "13812345678"},
		{name: "plus 86", in: "+8613812345678", want: "13812345678"},
		{name: "plus 86 grouped", in: "+86 138 1234 5678", want: "13812345678"},
		{name: "plus 86 in parentheses", in: "(+86) 138-1234-5678", want: "13812345678"},
		{name: "0086", in: "0086 13812345678", want: "13812345678"},
		{name: "bare 86", in: "8613812345678", want: "13812345678"},
		{name: "second digit 9", in: "19912345678", want: "19912345678"},
		{name: "second digit 3", in: "13012345678", want: "13012345678"},
		{name: "starts with 186", in: "18612345678", want: "18612345678"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParsePhone(tc.in)
			if err != nil {
				t.Fatalf("ParsePhone: %v", err)
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got.Reveal(), tc.want.Reveal())
			}
		})
	}
}

func TestParsePhoneInvalid(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		in     string
		reason string
	}{
		{name: "empty", in: "", reason: reasonPhoneEmpty},
		{name: "only separators", in: " ( - ) ", reason: reasonPhoneEmpty},
		{name: "10 digits", in: "1381234567", reason: reasonPhoneLength},
		{name: "12 digits", in: "138123456789", reason: reasonPhoneLength},
		{name: "86 with 10 digits", in: "861381234567", reason: reasonPhoneLength},
		{name: "second digit 2", in: "12812345678", reason: reasonPhonePrefix},
		{name: "second digit 0", in: "10012345678", reason: reasonPhonePrefix},
		{name: "landline", in: "01012345678", reason: reasonPhonePrefix},
		{name: "other country", in: "+1 415 555 1234", reason: reasonPhoneChars},
		{name: "plus 86 with 12 digits", in: "+86138123456789", reason: reasonPhoneChars},
		{name: "letter", in: "138123a5678", reason: reasonPhoneChars},
		{name: "full-width digits", in: "１３８１２３４５６７８", reason: reasonPhoneChars},
		{name: "dots", in: "138.1234.5678", reason: reasonPhoneChars},
		{name: "extension", in: "13812345678#1", reason: reasonPhoneChars},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParsePhone(tc.in)
			if err == nil {
				t.Fatalf("ParsePhone = %q, want error", got.Reveal())
			}
			requireFieldError(t, err, FieldPhone, tc.reason, tc.in)
		})
	}
}

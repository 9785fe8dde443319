package identity

import "testing"

func TestMasked(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		v    interface{ Masked() string }
		want string
	}{
		{name: "name three", v: Name("张三丰"), want: "张*丰"},
		{name: "name two", v: Name("张三"), want: "张*"},
		{name: "name one", v: Name("张"), want: "*"},
		{name: "name with dot", v: Name("阿依古丽·买买提"), want: "阿******提"},
		{name: "name empty", v: Name(""), want: ""},

		{name: "id", v: IDNumber("110101199003071234"), want: "110101********1234"},
		{name: "id with X", v: IDNumber("11010519491231002X"), want: "110105********002X"},
		{name: "id empty", v: IDNumber(""), want: ""},
		// Values below were not built by a parser; they must still hide most
		// of themselves.
		{name: "id short", v: IDNumber("1234567"), want: "*******"},
		{name: "id 15 digits", v: IDNumber("110105491231002"), want: "***********1002"},

		{name: "phone", v: Phone("13812345678"), want: "138****5678"},
		{name: "phone empty", v: Phone(""), want: ""},
		{name: "phone short", v: Phone("1234"), want: "****"},
		{name: "phone with country code", v: Phone("+8613812345678"), want: "**********5678"},

		{name: "card 19", v: BankCard("6222021234567890123"), want: "622202*********0123"},
		{name: "card 16", v: BankCard("4111111111111111"), want: "411111******1111"},
		{name: "card 12", v: BankCard("123456789012"), want: "123456**9012"},
		{name: "card short", v: BankCard("12345678"), want: "****5678"},
		{name: "card very short", v: BankCard("1234567"), want: "*******"},
		{name: "card empty", v: BankCard(""), want: ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.v.Masked(); got != tc.want {
				t.Errorf("Masked() = %q, want %q", got, tc.want)
			}
		})
	}
}

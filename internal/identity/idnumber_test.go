package identity

import (
	"testing"
	"time"
)

func TestIDCheckDigitKnownNumber(t *testing.T) {
	t.Parallel()
	// 11010519491231002X is the sample number published with GB 11643.
	if got := IDCheckDigit("11010519491231002"); got != 'X' {
		t.Fatalf("IDCheckDigit = %q, want 'X'", got)
	}
}

func TestParseIDNumber(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   string
		want IDNumber
	}{
		{name: "published sample", in: "11010519491231002X", want: "11010519491231002X"},
		{name: "lower-case x", in: "11010519491231002x", want: "11010519491231002X"},
		{name: "surrounding white space", in: " \t11010519491231002X\n", want: "11010519491231002X"},
		{name: "ideographic space", in: "\u300011010519491231002X\u3000", want: "11010519491231002X"},
		{name: "digit check character", in: idWithCheck("44030619900307123"), want: IDNumber(idWithCheck("44030619900307123"))},
		{name: "leap day", in: idWithCheck("31010120000229002"), want: IDNumber(idWithCheck("31010120000229002"))},
		{name: "first day of 1900", in: idWithCheck("11010119000101001"), want: IDNumber(idWithCheck("11010119000101001"))},
		// Pinned now is 15 June in Beijing but 14 June in UTC.
		{name: "born today in Beijing", in: idWithCheck("11010120250615001"), want: IDNumber(idWithCheck("11010120250615001"))},
		{name: "Taiwan 71", in: idWithCheck("71000019800101001"), want: IDNumber(idWithCheck("71000019800101001"))},
		{name: "Hong Kong 81", in: idWithCheck("81000019800101001"), want: IDNumber(idWithCheck("81000019800101001"))},
		{name: "Macau 82", in: idWithCheck("82000019800101001"), want: IDNumber(idWithCheck("82000019800101001"))},
		{name: "Taiwan residence permit 83", in: idWithCheck("83000019800101001"), want: IDNumber(idWithCheck("83000019800101001"))},
		{name: "Xinjiang 65", in: idWithCheck("65010219800101001"), want: IDNumber(idWithCheck("65010219800101001"))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseIDNumber(tc.in)
			if err != nil {
				t.Fatalf("ParseIDNumber: %v", err)
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got.Reveal(), tc.want.Reveal())
			}
		})
	}
}

func TestParseIDNumberInvalid(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		in     string
		reason string
	}{
		{name: "empty", in: "", reason: reasonIDLength},
		{name: "blank", in: "   ", reason: reasonIDLength},
		{name: "17 characters", in: "11010519491231002", reason: reasonIDLength},
		{name: "19 characters", in: "11010519491231002X1", reason: reasonIDLength},
		{name: "first generation 15 digits", in: "110105491231002", reason: reasonIDLength},
		{name: "full-width digits", in: "１１０１０５１９４９１２３１００２Ｘ", reason: reasonIDLength},
		{name: "letter inside", in: "1101051949123A002X", reason: reasonIDChars},
		{name: "X not last", in: "X10105194912310021", reason: reasonIDChars},
		{name: "other check letter", in: "11010519491231002Y", reason: reasonIDChars},
		{name: "inner space", in: "110105 19491231002", reason: reasonIDChars},
		{name: "wrong check digit", in: idWithWrongCheck("11010519491231002"), reason: reasonIDCheck},
		// One digit off from the published sample, keeping its X.
		{name: "wrong check X", in: "11010519491231003X", reason: reasonIDCheck},
		{name: "region 91", in: idWithCheck("91010519491231002"), reason: reasonIDRegion},
		{name: "region 00", in: idWithCheck("00010519491231002"), reason: reasonIDRegion},
		{name: "region 16", in: idWithCheck("16010519491231002"), reason: reasonIDRegion},
		{name: "region 84", in: idWithCheck("84010519491231002"), reason: reasonIDRegion},
		{name: "30 February", in: idWithCheck("11010519900230002"), reason: reasonIDDate},
		{name: "29 February 1900", in: idWithCheck("11010119000229001"), reason: reasonIDDate},
		{name: "29 February 2001", in: idWithCheck("11010120010229001"), reason: reasonIDDate},
		{name: "month 13", in: idWithCheck("11010119901301001"), reason: reasonIDDate},
		{name: "day 00", in: idWithCheck("11010119900100001"), reason: reasonIDDate},
		{name: "year 0000", in: idWithCheck("11010100000101001"), reason: reasonIDBefore},
		{name: "1899", in: idWithCheck("11010118991231001"), reason: reasonIDBefore},
		{name: "tomorrow in Beijing", in: idWithCheck("11010120250616001"), reason: reasonIDFuture},
		{name: "far future", in: idWithCheck("11010129990101001"), reason: reasonIDFuture},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseIDNumber(tc.in)
			if err == nil {
				t.Fatalf("ParseIDNumber = %q, want error", got.Reveal())
			}
			requireFieldError(t, err, FieldIDNumber, tc.reason, tc.in)
		})
	}
}

func TestIDNumberBirthDateRegion(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		id         IDNumber
		wantBirth  time.Time
		wantRegion string
	}{
		{
			name:       "valid",
			id:         "11010519491231002X",
			wantBirth:  time.Date(1949, 12, 31, 0, 0, 0, 0, chinaTime),
			wantRegion: "110105",
		},
		{name: "empty", id: ""},
		{name: "wrong length", id: "1101051949"},
		{name: "not a date", id: "110105abcdefgh002X", wantRegion: "110105"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.id.BirthDate(); !got.Equal(tc.wantBirth) {
				t.Errorf("BirthDate = %v, want %v", got, tc.wantBirth)
			}
			if got := tc.id.Region(); got != tc.wantRegion {
				t.Errorf("Region = %q, want %q", got, tc.wantRegion)
			}
		})
	}
}

func BenchmarkParseIDNumber(b *testing.B) {
	const in = "11010519491231002X"
	for b.Loop() {
		if _, err := ParseIDNumber(in); err != nil {
			b.Fatal(err)
		}
	}
}

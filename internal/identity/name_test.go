package identity

import (
	"strings"
	"testing"
)

func TestParseName(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   string
		want Name
	}{
		{name: "two characters", in: "张三", want: "张三"},
		{name: "three characters", in: "张三丰", want: "张三丰"},
		{name: "canonical middle dot", in: "阿依古丽·买买提", want: "阿依古丽·买买提"},
		{name: "bullet", in: "阿依古丽•买买提", want: "阿依古丽·买买提"},
		{name: "katakana middle dot", in: "阿依古丽・买买提", want: "阿依古丽·买买提"},
		{name: "half-width katakana middle dot", in: "阿依古丽･买买提", want: "阿依古丽·买买提"},
		{name: "hyphenation point", in: "阿依古丽‧买买提", want: "阿依古丽·买买提"},
		{name: "bullet operator", in: "阿依古丽∙买买提", want: "阿依古丽·买买提"},
		{name: "several dots", in: "爱新觉罗·溥仪·某", want: "爱新觉罗·溥仪·某"},
		{name: "ASCII spaces trimmed", in: "  张三\t", want: "张三"},
		{name: "ideographic spaces trimmed", in: "\u3000张三\u3000", want: "张三"},
		{name: "20 characters", in: strings.Repeat("张", 20), want: Name(strings.Repeat("张", 20))},
		{name: "dots count toward length", in: "张·" + strings.Repeat("三", 18), want: Name("张·" + strings.Repeat("三", 18))},
		{name: "Han numeral zero", in: "李〇", want: "李〇"},
		{name: "extension B character", in: "张𠀀", want: "张𠀀"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseName(tc.in)
			if err != nil {
				t.Fatalf("ParseName: %v", err)
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got.Reveal(), tc.want.Reveal())
			}
		})
	}
}

func TestParseNameInvalid(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		in     string
		reason string
	}{
		{name: "empty", in: "", reason: reasonNameEmpty},
		{name: "blank", in: " \u3000 ", reason: reasonNameEmpty},
		{name: "single character", in: "张", reason: reasonNameShort},
		{name: "21 characters", in: strings.Repeat("张", 21), reason: reasonNameLong},
		{name: "invalid UTF-8", in: "张\xff三", reason: reasonNameUTF8},
		{name: "ASCII digit", in: "张3丰", reason: reasonNameDigit},
		{name: "full-width digit", in: "张３丰", reason: reasonNameDigit},
		{name: "circled digit", in: "张①丰", reason: reasonNameDigit},
		{name: "Latin letter", in: "张三a", reason: reasonNameLatin},
		{name: "pinyin", in: "Zhang San", reason: reasonNameLatin},
		{name: "full-width Latin", in: "张Ａ丰", reason: reasonNameLatin},
		{name: "NUL", in: "张\x00三", reason: reasonNameControl},
		{name: "newline inside", in: "张\n三", reason: reasonNameControl},
		{name: "zero-width space", in: "张\u200b三", reason: reasonNameControl},
		{name: "inner space", in: "张 三", reason: reasonNameSpace},
		{name: "inner ideographic space", in: "张\u3000三", reason: reasonNameSpace},
		{name: "ASCII full stop", in: "张.三", reason: reasonNameOther},
		{name: "hyphen", in: "张-三", reason: reasonNameOther},
		{name: "emoji", in: "张三😀", reason: reasonNameOther},
		{name: "hiragana", in: "さくら", reason: reasonNameOther},
		{name: "Hangul", in: "김철수", reason: reasonNameOther},
		{name: "leading dot", in: "·张三", reason: reasonNameDotEdge},
		{name: "trailing dot", in: "张三·", reason: reasonNameDotEdge},
		{name: "trailing look-alike dot", in: "张三•", reason: reasonNameDotEdge},
		{name: "doubled dot", in: "张··三", reason: reasonNameDotDouble},
		{name: "doubled mixed dots", in: "张・·三", reason: reasonNameDotDouble},
		{name: "only a dot", in: "·", reason: reasonNameDotEdge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseName(tc.in)
			if err == nil {
				t.Fatalf("ParseName = %q, want error", got.Reveal())
			}
			requireFieldError(t, err, FieldName, tc.reason, tc.in)
		})
	}
}

func BenchmarkParseName(b *testing.B) {
	b.Run("plain", func(b *testing.B) {
		for b.Loop() {
			if _, err := ParseName("张三丰"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("look-alike dot", func(b *testing.B) {
		for b.Loop() {
			if _, err := ParseName("阿依古丽•买买提"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Package sample generates synthetic identities for demos, tests and
// benchmarks: made-up names, ID numbers with valid check digits, mobile
// numbers and Luhn-valid bank card numbers, each with the answers the sandbox
// gateway should give for it. Nothing here is anyone's personal data.
//
// Generation is deterministic from a seed and streams: Generate yields one
// entry at a time and the writers hold one row at a time, so a million
// records take no more memory than ten.
package sample

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"iter"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/realname-io/realname/internal/identity"
	"github.com/realname-io/realname/internal/sandbox"
)

// Record is one verification request's input: the columns of the bulk input
// format.
type Record struct {
	OrderNo  string `json:"orderNo"`
	Name     string `json:"name"`
	IDNumber string `json:"idNumber"`
	Phone    string `json:"phoneNumber"`
	BankCard string `json:"bankCardNumber"`
}

// Outcome is the kind of answer a record is scripted to get.
type Outcome string

// The scripted outcomes and their shares of the generated records.
const (
	// OutcomeMatch (85%): every action answers 00.
	OutcomeMatch Outcome = "match"
	// OutcomeNameMismatch (6%): every action answers 01.
	OutcomeNameMismatch Outcome = "name_mismatch"
	// OutcomeMobileMismatch (3%): the mobile number is not the person's:
	// BspMobileAuth3 answers 98 and BspBankCardAuth4 06, the others 00.
	OutcomeMobileMismatch Outcome = "mobile_mismatch"
	// OutcomeInvalidCard (2%): the card actions answer 12 or 03, the
	// others 00.
	OutcomeInvalidCard Outcome = "invalid_card"
	// OutcomeCardUnusable (2%): the card actions answer one of 07, 09, 14,
	// 15, 16, 17, 18, 19, 23 (lost, expired, dormant…), the others 00.
	OutcomeCardUnusable Outcome = "card_unusable"
	// OutcomeDataCheckFailed (2%): every action answers 05.
	OutcomeDataCheckFailed Outcome = "data_check_failed"
)

// outcomeShares lists the outcomes with their cumulative share in percent.
var outcomeShares = []struct {
	outcome Outcome
	upTo    int
}{
	{OutcomeMatch, 85},
	{OutcomeNameMismatch, 91},
	{OutcomeMobileMismatch, 94},
	{OutcomeInvalidCard, 96},
	{OutcomeCardUnusable, 98},
	{OutcomeDataCheckFailed, 100},
}

// Entry is a generated record with its scripted answers.
type Entry struct {
	Record
	// Outcome is the kind of answer the record gets.
	Outcome Outcome
	// AuthCodes is the authCode each of the four actions answers, keyed by
	// action name, as in a sandbox fixture.
	AuthCodes map[string]string
}

// FixtureEntry returns e as a line of a sandbox fixture.
func (e Entry) FixtureEntry() sandbox.FixtureEntry {
	return sandbox.FixtureEntry{
		Name:      e.Name,
		IDNumber:  e.IDNumber,
		Phone:     e.Phone,
		BankCard:  e.BankCard,
		AuthCodes: e.AuthCodes,
	}
}

// regions are real-looking 6-digit administrative division codes (district
// level, one or two per large city).
var regions = [numRegions]string{
	"110101", "110105", "310104", "310115", "320102", "330106", "350203", "370202",
	"420106", "430104", "440106", "440305", "500103", "510107", "610113", "650102",
}

// Birth dates run from 1950-01-01 to 2005-12-31: birthDays days.
var birthFirst = time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC)

const (
	birthDays  = 20454
	numRegions = 16
)

// MaxRecords is the most records Generate yields: the number of distinct ID
// numbers it can make (16 regions × 20454 birth dates × 1000 sequence
// numbers), since every record has its own.
const MaxRecords = numRegions * birthDays * 1000

// Name tables. The combinations are made up; the minority-style names join
// two common transliterated name parts with the middle dot.
var (
	surnames = []string{
		"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
		"何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾",
		"肖", "田", "董", "袁", "潘", "于", "蒋", "蔡", "余", "杜", "叶", "程", "苏", "魏", "吕", "丁",
		"任", "沈", "姚", "卢", "姜", "崔", "钟", "谭", "陆", "汪", "范", "金", "石", "廖", "贾", "夏",
	}
	compoundSurnames = []string{"欧阳", "司马", "上官", "诸葛", "东方", "慕容"}
	givenChars       = []string{
		"伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
		"超", "秀", "霞", "平", "刚", "桂", "英", "华", "玉", "萍", "红", "玲", "芬", "燕", "彬", "鹏",
		"辉", "斌", "宇", "浩", "凯", "健", "俊", "帆", "帅", "旭", "宁", "龙", "林", "欣", "雨", "婷",
		"晨", "雪", "佳", "怡", "子", "轩", "梓", "涵", "诺", "然", "思", "睿", "博", "文", "嘉", "琪",
	}
	minorityFirst  = []string{"阿依古丽", "古丽娜尔", "买买提", "艾力", "热依拉", "努尔", "迪丽", "帕提古丽", "阿不都", "吐尔逊", "米娜", "阿迪力"}
	minoritySecond = []string{"买买提", "艾买提", "吾斯曼", "阿布拉", "托合提", "依明", "热合曼", "卡德尔", "吐尔洪", "阿西木"}
)

var (
	invalidCardCodes  = []string{"12", "03"}
	unusableCardCodes = []string{"07", "09", "14", "15", "16", "17", "18", "19", "23"}
)

// Generate yields n synthetic entries, a pure function of n and seed: the
// same arguments always give the same entries in the same order, and entry i
// does not depend on n. OrderNos are "S{seed}-{i:08d}" counting from 1; ID
// numbers are distinct. n is capped at MaxRecords.
func Generate(n int, seed int64) iter.Seq[Entry] {
	n = min(n, MaxRecords)
	g := newGenerator(seed)
	return func(yield func(Entry) bool) {
		for i := 1; i <= n; i++ {
			if !yield(g.entry(i)) {
				return
			}
		}
	}
}

// generator holds what every entry of one seed shares.
type generator struct {
	seed       int64
	s0, s1     uint64 // per-record PRNG seeds are derived from these
	mult, offs uint64 // the affine permutation of ID slots
}

func newGenerator(seed int64) *generator {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(seed))
	sum := sha256.Sum256(b[:])
	g := &generator{
		seed: seed,
		s0:   binary.LittleEndian.Uint64(sum[0:]),
		s1:   binary.LittleEndian.Uint64(sum[8:]),
	}
	// slot(i) = (mult·i + offs) mod MaxRecords is a permutation when mult
	// is coprime to MaxRecords, which gives every record its own ID number
	// without remembering the ones already issued.
	m := uint64(MaxRecords)
	g.mult = binary.LittleEndian.Uint64(sum[16:])%m | 1
	for gcd(g.mult, m) != 1 {
		g.mult += 2
	}
	g.offs = binary.LittleEndian.Uint64(sum[24:]) % m
	return g
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// splitmix64 scrambles a counter into a well-mixed seed.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// entry builds entry i. Its draws come from a PRNG of its own, in a fixed
// order, so entries are independent of each other.
func (g *generator) entry(i int) Entry {
	rng := rand.New(rand.NewPCG(splitmix64(g.s0^uint64(i)), splitmix64(g.s1+uint64(i))))
	e := Entry{Record: Record{
		OrderNo:  "S" + strconv.FormatInt(g.seed, 10) + "-" + fmt.Sprintf("%08d", i),
		IDNumber: g.idNumber(i),
		Name:     name(rng),
		Phone:    phone(rng),
		BankCard: bankCard(rng),
	}}
	e.Outcome, e.AuthCodes = outcome(rng)
	return e
}

// idNumber returns the ID number in slot i of the permutation.
func (g *generator) idNumber(i int) string {
	m := uint64(MaxRecords)
	// mult and i are below 2^29, so the product does not overflow.
	slot := (g.mult*(uint64(i-1)%m) + g.offs) % m
	region := regions[slot%uint64(len(regions))]
	slot /= uint64(len(regions))
	birth := birthFirst.AddDate(0, 0, int(slot%uint64(birthDays)))
	seq := slot / uint64(birthDays)
	first17 := region + birth.Format("20060102") + fmt.Sprintf("%03d", seq)
	return first17 + string(identity.IDCheckDigit(first17))
}

func name(rng *rand.Rand) string {
	if rng.IntN(100) < 2 {
		return minorityFirst[rng.IntN(len(minorityFirst))] + "·" + minoritySecond[rng.IntN(len(minoritySecond))]
	}
	var b strings.Builder
	if rng.IntN(100) < 1 {
		b.WriteString(compoundSurnames[rng.IntN(len(compoundSurnames))])
	} else {
		b.WriteString(surnames[rng.IntN(len(surnames))])
	}
	b.WriteString(givenChars[rng.IntN(len(givenChars))])
	if rng.IntN(100) < 60 {
		b.WriteString(givenChars[rng.IntN(len(givenChars))])
	}
	return b.String()
}

func phone(rng *rand.Rand) string {
	return fmt.Sprintf("1%d%09d", 3+rng.IntN(7), rng.IntN(1_000_000_000))
}

// bankCard returns a 16- or 19-digit UnionPay-style number (BIN 62xxxx) with
// a valid Luhn check digit.
func bankCard(rng *rand.Rand) string {
	length := 16
	if rng.IntN(100) < 30 {
		length = 19
	}
	var b strings.Builder
	b.Grow(length)
	b.WriteString("62")
	for b.Len() < length-1 {
		b.WriteByte(byte('0' + rng.IntN(10)))
	}
	payload := b.String()
	return payload + string(identity.LuhnCheckDigit(payload))
}

func outcome(rng *rand.Rand) (Outcome, map[string]string) {
	u := rng.IntN(100)
	pick := rng.Uint64()
	var o Outcome
	for _, s := range outcomeShares {
		if u < s.upTo {
			o = s.outcome
			break
		}
	}
	codes := func(idcard, mobile3, card3, card4 string) map[string]string {
		return map[string]string{
			sandbox.ActionIDCardAuth:    idcard,
			sandbox.ActionMobileAuth3:   mobile3,
			sandbox.ActionBankCard3Auth: card3,
			sandbox.ActionBankCardAuth4: card4,
		}
	}
	switch o {
	case OutcomeNameMismatch:
		return o, codes("01", "01", "01", "01")
	case OutcomeMobileMismatch:
		return o, codes("00", "98", "00", "06")
	case OutcomeInvalidCard:
		c := invalidCardCodes[pick%uint64(len(invalidCardCodes))]
		return o, codes("00", "00", c, c)
	case OutcomeCardUnusable:
		c := unusableCardCodes[pick%uint64(len(unusableCardCodes))]
		return o, codes("00", "00", c, c)
	case OutcomeDataCheckFailed:
		return o, codes("05", "05", "05", "05")
	}
	return OutcomeMatch, codes("00", "00", "00", "00")
}

package keyring

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func mustGenerate(t *testing.T, id string) string {
	t.Helper()
	e, err := Generate(id)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func mustParse(t *testing.T, spec string) *Keyring {
	t.Helper()
	k, err := Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestRotation: the newest key seals; blobs of the older one still open
// while it is in the ring, and name it when it is gone.
func TestRotation(t *testing.T) {
	t.Parallel()
	old, newer := mustGenerate(t, "k1"), mustGenerate(t, "k2")
	ringOld := mustParse(t, old)
	ringBoth := mustParse(t, newer+","+old)
	ringNew := mustParse(t, newer)
	aad := []byte("vrf:A1")
	sealedOld := ringOld.Seal(aad, []byte("张三"))
	sealedNew := ringBoth.Seal(aad, []byte("李四"))
	if id, _ := KeyID(sealedNew); id != "k2" || ringBoth.Primary() != "k2" {
		t.Fatalf("sealed under %q, primary %q: want k2", id, ringBoth.Primary())
	}
	if pt, err := ringBoth.Open(aad, sealedOld); err != nil || string(pt) != "张三" {
		t.Fatalf("old blob with both keys: %q, %v", pt, err)
	}
	if _, err := ringNew.Open(aad, sealedOld); !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), "k1") {
		t.Fatalf("old blob without its key: %v, want ErrUnknownKey naming k1", err)
	}
	if bytes.Contains(sealedNew, []byte("李四")) {
		t.Fatal("plaintext visible in the blob")
	}
}

// TestOpenRefuses: a blob opens only for its own associated data, intact,
// under its own key material.
func TestOpenRefuses(t *testing.T) {
	t.Parallel()
	k := mustParse(t, mustGenerate(t, "k1"))
	other := mustParse(t, mustGenerate(t, "k1")) // same ID, other material
	blob := k.Seal([]byte("vrf:A1"), []byte("110105194912310021"))
	tampered := bytes.Clone(blob)
	tampered[len(tampered)-1] ^= 1
	cases := []struct {
		name string
		ring *Keyring
		aad  string
		blob []byte
		want error
	}{
		{"moved to another job", k, "vrf:A2", blob, ErrOpen},
		{"tampered", k, "vrf:A1", tampered, ErrOpen},
		{"wrong key material", other, "vrf:A1", blob, ErrOpen},
		{"not a blob", k, "vrf:A1", []byte(`{"name":"x"}`), ErrOpen},
		{"empty", k, "vrf:A1", nil, ErrOpen},
		{"truncated", k, "vrf:A1", blob[:10], ErrOpen},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.ring.Open([]byte(tc.aad), tc.blob); !errors.Is(err, tc.want) {
				t.Fatalf("Open: %v, want %v", err, tc.want)
			}
		})
	}
	if pt, err := k.Open([]byte("vrf:A1"), blob); err != nil || string(pt) != "110105194912310021" {
		t.Fatalf("Open of the intact blob: %q, %v", pt, err)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	good := mustGenerate(t, "k1")
	cases := []struct{ name, spec, want string }{
		{"empty", "", "no key"},
		{"no separator", "k1", "entry 1"},
		{"bad id", "k 1:AAAA", "entry 1"},
		{"short key", "k1:AAAA", "key k1: want 32 bytes"},
		{"not base64", "k1:!!!", "key k1"},
		{"twice", good + "," + good, "given twice"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.spec)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse(%q): %v, want an error containing %q", tc.name, err, tc.want)
			}
			if err != nil && len(tc.spec) > 10 && strings.Contains(err.Error(), tc.spec[3:]) {
				t.Fatalf("error %q quotes the key", err)
			}
		})
	}
}

func BenchmarkSeal(b *testing.B) {
	k, _ := Parse(func() string { e, _ := Generate("k1"); return e }())
	pt := []byte(`{"name":"张三","idNumber":"110105194912310021","phoneNumber":"13800138000","bankCardNumber":"6222020200112233445"}`)
	aad := []byte("vrf:order-000001")
	b.ReportAllocs()
	for b.Loop() {
		k.Seal(aad, pt)
	}
}

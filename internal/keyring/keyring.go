// Package keyring encrypts personal data at rest: AES-256-GCM from the
// standard library, under a ring of keys where the newest (the primary)
// encrypts and every key still decrypts, so keys rotate without a
// flag day.
//
// A sealed blob names its key and is bound to associated data the caller
// chooses (realname uses the job ID): a blob moved to another job does not
// open. Layout: version byte 1, key ID length, key ID, 12-byte nonce, then
// ciphertext and tag.
//
// Keys are written "ID:BASE64" (32 bytes, standard base64), comma-separated,
// the primary first: Generate makes one, Parse reads a ring.
package keyring

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// blobVersion is the first byte of every blob.
const blobVersion = 1

// keySize is AES-256's.
const keySize = 32

// ErrUnknownKey is matched by the error of Open for a blob sealed under a
// key the ring does not hold.
var ErrUnknownKey = errors.New("keyring: blob sealed under a key this ring does not hold")

// ErrOpen is matched by the error of Open for a blob that does not open:
// tampered with, sealed for other associated data, or not a blob.
var ErrOpen = errors.New("keyring: blob does not open")

// idPattern is what a key ID may be: short, printable, no separators.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// Keyring holds the keys. It is safe for concurrent use.
type Keyring struct {
	ids  []string // primary first
	aead map[string]cipher.AEAD
}

// Parse reads a ring written "ID:BASE64,ID:BASE64,…", the primary first.
// Errors name the entry by position and key ID, never the key.
func Parse(spec string) (*Keyring, error) {
	k := &Keyring{aead: make(map[string]cipher.AEAD)}
	for i, entry := range strings.Split(spec, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		id, b64, ok := strings.Cut(entry, ":")
		if !ok || !idPattern.MatchString(id) {
			return nil, fmt.Errorf("keyring: entry %d: want ID:BASE64 with an ID of letters, digits, _ . -", i+1)
		}
		key, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(key) != keySize {
			return nil, fmt.Errorf("keyring: key %s: want %d bytes in standard base64", id, keySize)
		}
		if _, dup := k.aead[id]; dup {
			return nil, fmt.Errorf("keyring: key %s given twice", id)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("keyring: key %s: %w", id, err)
		}
		gcm, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("keyring: key %s: %w", id, err)
		}
		k.ids = append(k.ids, id)
		k.aead[id] = gcm
	}
	if len(k.ids) == 0 {
		return nil, errors.New("keyring: no key")
	}
	return k, nil
}

// Generate returns a new key entry "ID:BASE64" with a fresh random key; an
// empty id gets one from the date and random bits ("k20261202-3f9a").
func Generate(id string) (string, error) {
	key := make([]byte, keySize)
	if _, err := rand.Read(key); err != nil {
		return "", err
	}
	if id == "" {
		var r [2]byte
		if _, err := rand.Read(r[:]); err != nil {
			return "", err
		}
		id = fmt.Sprintf("k%s-%x", time.Now().UTC().Format("20060102"), r)
	}
	if !idPattern.MatchString(id) {
		return "", fmt.Errorf("keyring: key ID %q: letters, digits, _ . - only, at most 64", id)
	}
	return id + ":" + base64.StdEncoding.EncodeToString(key), nil
}

// Primary returns the ID of the key that seals.
func (k *Keyring) Primary() string { return k.ids[0] }

// IDs returns the IDs of every key, the primary first.
func (k *Keyring) IDs() []string { return slices.Clone(k.ids) }

// Has reports whether the ring holds the key id.
func (k *Keyring) Has(id string) bool { _, ok := k.aead[id]; return ok }

// Seal encrypts plaintext under the primary key, bound to aad.
func (k *Keyring) Seal(aad, plaintext []byte) []byte {
	id := k.ids[0]
	gcm := k.aead[id]
	out := make([]byte, 0, 2+len(id)+gcm.NonceSize()+len(plaintext)+gcm.Overhead())
	out = append(out, blobVersion, byte(len(id)))
	out = append(out, id...)
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic("keyring: no randomness: " + err.Error()) // crypto/rand does not fail on Linux
	}
	out = append(out, nonce...)
	return gcm.Seal(out, nonce, plaintext, aad)
}

// Open decrypts a blob of Seal bound to aad. The error matches
// ErrUnknownKey (naming the key ID) or ErrOpen.
func (k *Keyring) Open(aad, blob []byte) ([]byte, error) {
	id, rest, err := split(blob)
	if err != nil {
		return nil, err
	}
	gcm, ok := k.aead[id]
	if !ok {
		return nil, fmt.Errorf("%w: %s (this ring: %s)", ErrUnknownKey, id, strings.Join(k.ids, ", "))
	}
	if len(rest) < gcm.NonceSize()+gcm.Overhead() {
		return nil, fmt.Errorf("%w: too short", ErrOpen)
	}
	pt, err := gcm.Open(nil, rest[:gcm.NonceSize()], rest[gcm.NonceSize():], aad)
	if err != nil {
		return nil, fmt.Errorf("%w: key %s: wrong key material, or sealed for other data", ErrOpen, id)
	}
	return pt, nil
}

// KeyID returns the ID of the key a blob was sealed under, without opening
// it.
func KeyID(blob []byte) (string, error) {
	id, _, err := split(blob)
	return id, err
}

func split(blob []byte) (id string, rest []byte, err error) {
	if len(blob) < 2 || blob[0] != blobVersion || len(blob) < 2+int(blob[1]) || blob[1] == 0 {
		return "", nil, fmt.Errorf("%w: not a sealed blob", ErrOpen)
	}
	n := int(blob[1])
	id = string(blob[2 : 2+n])
	if !idPattern.MatchString(id) || bytes.ContainsAny([]byte(id), ",:") {
		return "", nil, fmt.Errorf("%w: not a sealed blob", ErrOpen)
	}
	return id, blob[2+n:], nil
}

// Ephemeral returns a ring of one random key that lives as long as the
// process: for the demo and tests, whose queues die with them.
func Ephemeral() *Keyring {
	e, err := Generate("")
	if err != nil {
		panic("keyring: no randomness: " + err.Error())
	}
	k, err := Parse(e)
	if err != nil {
		panic(err)
	}
	return k
}

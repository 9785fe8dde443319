package harness

import (
	"sync"

	"github.com/realname-io/realname/internal/keyring"
	"github.com/realname-io/realname/internal/task"
)

// The harness's encryption key ring: one key made per harness process,
// given to every child through BaseEnv, so that what one process seals
// another opens.
var keys = sync.OnceValues(func() (string, *task.Codec) {
	spec, err := keyring.Generate("harness")
	if err != nil {
		panic(err)
	}
	ring, err := keyring.Parse(spec)
	if err != nil {
		panic(err)
	}
	codec, err := task.NewCodec(ring)
	if err != nil {
		panic(err)
	}
	return spec, codec
})

// EncryptionKeys returns the harness's key ring, as REALNAME_ENCRYPTION_KEYS
// takes it.
func EncryptionKeys() string { spec, _ := keys(); return spec }

// Codec returns a task codec on the harness's key ring.
func Codec() *task.Codec { _, c := keys(); return c }

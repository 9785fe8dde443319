package worker

import (
	"fmt"
	"slices"
	"strings"

	"github.com/realname-io/realname/internal/task"
)

// keySample is how many tasks of each state of each verification queue
// checkKeys reads.
const keySample = 100

// checkKeys fails when queued verification tasks are sealed under keys
// the codec's ring does not hold, so that wrong keys stop a worker at
// start, with the key IDs to look for, rather than at its first job. It
// reads a sample (the first keySample tasks of each state of each
// verification queue); `realname keys status` reads them all.
func (w *Worker) checkKeys() error {
	ring := w.cfg.Codec.Keys()
	use, err := task.KeyUse(w.inspector, keySample)
	if err != nil {
		return fmt.Errorf("worker: check keys of queued tasks: %w", err)
	}
	missing := map[string]int{}
	for id, n := range use {
		if id != "" && !ring.Has(id) {
			missing[id] = n
		}
	}
	if len(missing) == 0 {
		return nil
	}
	var ids []string
	for id, n := range missing {
		ids = append(ids, fmt.Sprintf("%s (%d tasks seen)", id, n))
	}
	slices.Sort(ids)
	return fmt.Errorf("worker: queued tasks are sealed under keys REALNAME_ENCRYPTION_KEYS does not hold: %s; it holds %s. Add the old keys after the new one (see `realname keys status`)",
		strings.Join(ids, ", "), strings.Join(ring.IDs(), ", "))
}

package sandbox

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// ParseCredentials reads SecretId/SecretKey pairs, one a line, written
// "SecretId:SecretKey" or "SecretId SecretKey" (any white space). Blank lines
// and lines starting with # are skipped. Errors name the line number, never
// its content, since a line holds a key.
func ParseCredentials(r io.Reader) (map[string]string, error) {
	creds := make(map[string]string)
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		var id, key string
		if i, k, ok := strings.Cut(s, ":"); ok {
			id, key = strings.TrimSpace(i), strings.TrimSpace(k)
		} else if f := strings.Fields(s); len(f) == 2 {
			id, key = f[0], f[1]
		}
		if id == "" || key == "" || strings.ContainsAny(id, " \t") || strings.ContainsAny(key, " \t") {
			return nil, fmt.Errorf("sandbox: credentials line %d: want SecretId:SecretKey or SecretId SecretKey", line)
		}
		if _, dup := creds[id]; dup {
			return nil, fmt.Errorf("sandbox: credentials line %d: SecretId repeats an earlier line", line)
		}
		creds[id] = key
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("sandbox: reading credentials after line %d: %w", line, err)
	}
	return creds, nil
}

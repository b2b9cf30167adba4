package seal

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"os"
	"strings"
)

// ParseKeys reads data keys written one per line as ID=BASE64 (32 random
// bytes, standard or URL base64), the first line being the primary. Blank
// lines and '#' comments are skipped; commas also separate keys, so the
// same text fits an environment variable. Errors name the line, never the
// key.
func ParseKeys(text string) (*Keyring, error) {
	keys := map[string][]byte{}
	var primary string
	sc := bufio.NewScanner(strings.NewReader(strings.ReplaceAll(text, ",", "\n")))
	for line := 1; sc.Scan(); line++ {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		id, b64, ok := strings.Cut(l, "=")
		if !ok {
			return nil, fmt.Errorf("data key %d: want ID=BASE64", line)
		}
		raw, err := decodeKey(strings.TrimSpace(b64))
		if err != nil {
			return nil, fmt.Errorf("data key %d (%s): not base64", line, id)
		}
		id = strings.TrimSpace(id)
		if _, dup := keys[id]; dup {
			return nil, fmt.Errorf("data key %d: id %q appears twice", line, id)
		}
		keys[id] = raw
		if primary == "" {
			primary = id
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("no data keys: write one ID=BASE64 line (generate with: keybroker genkey)")
	}
	return NewKeyring(primary, keys)
}

// LoadKeys reads a key file (see ParseKeys). It refuses files that others
// can read, as ssh does for private keys.
func LoadKeys(path string) (*Keyring, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("encryption key file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("encryption key file %s is readable by others (mode %v); chmod 600 it", path, fi.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("encryption key file: %w", err)
	}
	k, err := ParseKeys(string(data))
	if err != nil {
		return nil, fmt.Errorf("encryption key file %s: %w", path, err)
	}
	return k, nil
}

func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if raw, err := enc.DecodeString(s); err == nil {
			return raw, nil
		}
	}
	return nil, fmt.Errorf("not base64")
}

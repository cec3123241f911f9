package keys

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// fileMode is the mode of a key file: it holds private keys.
const fileMode = 0o600

// AppendToFile generates a key for alg (see Generate), appends it to the JWK
// Set file at path, creating the file if it does not exist, and returns the
// new key's kid. It backs `wsctl keys generate`: the first step of a
// rotation is to add the next key to the file while another stays active.
//
// An existing file must be a valid set of private keys (the rules of Load,
// short of an active key); keys already in it are written back as they
// were, as are any other members of the set. The file is replaced
// atomically with mode 0600, so a server reloading it at the same moment
// reads either the old set or the new one, never half of one. Two
// concurrent calls on the same file are not serialised: the last one wins.
func AppendToFile(path, alg string) (kid string, err error) {
	key, err := Generate(alg)
	if err != nil {
		return "", err
	}
	kid, _ = key.KeyID()

	// The set is decoded twice: once loosely, to keep every member and
	// every key as it is written, and once strictly, to validate it.
	doc := map[string]json.RawMessage{}
	var existing []json.RawMessage
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return "", fmt.Errorf("keys: read key file: %w", err)
	default:
		keys, err := parseSetFile(data)
		if err != nil {
			return "", fmt.Errorf("%w (in %s)", err, path)
		}
		for _, k := range keys {
			if k.kid == kid {
				return "", fmt.Errorf("keys: generated kid %q is already in %s", kid, path)
			}
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			return "", fmt.Errorf("keys: %s: not a JWK Set: %w", path, err)
		}
		if doc == nil { // the file said null
			doc = map[string]json.RawMessage{}
		}
		if raw, ok := doc["keys"]; ok {
			if err := json.Unmarshal(raw, &existing); err != nil {
				return "", fmt.Errorf("keys: %s: not a JWK Set: %w", path, err)
			}
		}
	}

	newKey, err := json.Marshal(key)
	if err != nil {
		return "", fmt.Errorf("keys: marshal key %q: %w", kid, err)
	}
	if doc["keys"], err = json.Marshal(append(existing, newKey)); err != nil {
		return "", fmt.Errorf("keys: marshal key set: %w", err)
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return "", fmt.Errorf("keys: marshal key set: %w", err)
	}
	if err := writeFileAtomic(path, append(out, '\n'), fileMode); err != nil {
		return "", err
	}
	return kid, nil
}

// writeFileAtomic writes data to a temporary file next to path and renames
// it over path, so that readers see the old content or the new, and a crash
// leaves no truncated key file behind.
func writeFileAtomic(path string, data []byte, mode fs.FileMode) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	// CreateTemp makes the file 0600 from the start: the private keys are
	// never readable by others, not even for the moment before a chmod.
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("keys: write key file: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err := f.Chmod(mode); err != nil {
		return fmt.Errorf("keys: write key file: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("keys: write key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("keys: write key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("keys: write key file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("keys: write key file: %w", err)
	}
	// Sync the directory too, so the rename itself survives a crash.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

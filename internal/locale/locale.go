// Package locale is the widget's languages: which it speaks, and the rules
// for a BCP 47 tag that a message, an embed URL or a tenant's defaults
// carry.
package locale

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/text/language"
)

// MaxBytes bounds a tag: RFC 5646 section 4.4.1 asks implementations to
// take tags of up to 35 characters.
const MaxBytes = 35

// Names are the languages the widget's strings are written in (widget.js
// holds them), by primary language subtag, with their English names.
var Names = map[string]string{"en": "English", "de": "German", "fr": "French", "es": "Spanish", "ja": "Japanese", "ar": "Arabic"}

// List is the widget's languages' tags, in a stable order, for messages.
func List() string {
	tags := make([]string, 0, len(Names))
	for t := range Names {
		tags = append(tags, t)
	}
	slices.Sort(tags)
	return strings.Join(tags, ", ")
}

// Check reports whether tag is a well-formed BCP 47 language tag of at
// most MaxBytes.
func Check(tag string) error {
	switch {
	case tag == "" || len(tag) > MaxBytes:
		return fmt.Errorf("must be a BCP 47 language tag of 1 to %d characters, got %d", MaxBytes, len(tag))
	case strings.Contains(tag, "_"):
		// x/text also reads "_" as a separator; BCP 47 has only "-".
		return errors.New(`must be a BCP 47 language tag such as "de" or "pt-BR" (subtags are separated by "-")`)
	}
	if _, err := language.Parse(tag); err != nil {
		return errors.New(`must be a BCP 47 language tag such as "de" or "pt-BR"`)
	}
	return nil
}

// Primary is tag's primary language subtag, lower case: "pt" of "pt-BR".
func Primary(tag string) string {
	p, _, _ := strings.Cut(tag, "-")
	return strings.ToLower(p)
}

package locale_test

import (
	"testing"

	"github.com/causeflow/widget-sessions/internal/locale"
)

func TestCheck(t *testing.T) {
	for _, ok := range []string{"ar", "de", "de-CH", "pt-BR", "zh-Hant-TW", "EN-us", "es-419", "de-DE-1996", "sr-Latn-RS"} {
		if err := locale.Check(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "en_US", "x", "arabic!", "de-", "-de", "a-a-a-a-a-a-a-a-a-a-a-a-a-a-a-a-a-a-b", "en US", "<script>"} {
		if err := locale.Check(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestPrimary(t *testing.T) {
	for in, want := range map[string]string{"ar": "ar", "DE-ch": "de", "pt-BR": "pt", "ja-JP-u-ca-japanese": "ja"} {
		if got := locale.Primary(in); got != want {
			t.Errorf("Primary(%q) = %q, want %q", in, got, want)
		}
	}
}

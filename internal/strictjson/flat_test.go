package strictjson

import "testing"

// FuzzFlatAgrees holds ParseObject's fast path for flat objects to the
// decoder's answers: whatever parseFlat accepts, the decoder accepts with
// the same members, and String and Int read the same values from both.
func FuzzFlatAgrees(f *testing.F) {
	for _, s := range []string{
		`{"userId":"user_alice"}`, `{"userId":"user_alice","incidentId":"inc_1","ttlSeconds":900}`,
		` { "userId" : "a" , "ttlSeconds" : -0 } `, `{}`, `{"ttlSeconds":01}`, `{"ttlSeconds":1.5}`,
		`{"userId":"a","userId":"b"}`, `{"userId":"\u00e9"}`, `{"userId":"a"} x`, `{"other":1}`,
		`{"ttlSeconds":1e3}`, `{"userId":null}`, "{\"userId\":\"a\x7f\"}", `{"userId":"a",}`, `{"ttlSeconds":-}`,
	} {
		f.Add([]byte(s))
	}
	allowed := []string{"userId", "incidentId", "ttlSeconds"}
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, ok := parseFlat(data, allowed)
		if !ok {
			return
		}
		slow, err := parseSlow(data, allowed)
		if err != nil {
			t.Fatalf("the fast path took %q, the decoder refuses it: %v", data, err)
		}
		if len(fast) != len(slow) {
			t.Fatalf("%q: fast path %d members, decoder %d", data, len(fast), len(slow))
		}
		for _, member := range slow {
			name := member.Name
			fs, ferr := fast.String(name)
			ss, serr := slow.String(name)
			if (ferr == nil) != (serr == nil) || (fs == nil) != (ss == nil) || (fs != nil && *fs != *ss) {
				t.Fatalf("%q: String(%s): fast %v %v, decoder %v %v", data, name, fs, ferr, ss, serr)
			}
			fi, ferr := fast.Int(name)
			si, serr := slow.Int(name)
			if (ferr == nil) != (serr == nil) || (fi == nil) != (si == nil) || (fi != nil && *fi != *si) {
				t.Fatalf("%q: Int(%s): fast %v %v, decoder %v %v", data, name, fi, ferr, si, serr)
			}
		}
	})
}

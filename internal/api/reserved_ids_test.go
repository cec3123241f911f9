package api_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/causeflow/widget-sessions/internal/directory"
)

// reservedIDs are ids a caller may mint for (any string without whitespace
// or control characters) holding the URL's reserved characters; each must
// be revocable by its escaped path.
var reservedIDs = []string{"org/alice", "a%b", "who?me", "tag#1", "semi;colon", "plus+sign", "a%2Fb"}

// TestRevokeIDsWithReservedCharacters mints a session for users and tenants
// whose ids hold a URL's reserved characters, and revokes each through the
// three DELETEs with the id path-escaped: the router matches the escaped
// path, so an id that can be minted can be revoked.
func TestRevokeIDsWithReservedCharacters(t *testing.T) {
	var users, tenants []string
	for i, id := range reservedIDs {
		users = append(users, `"`+id+`"`)
		tenants = append(tenants, `"`+id+`": {"users": ["u`+string(rune('a'+i))+`"]}`)
	}
	dir, err := directory.ParseFile([]byte(`{"tenants": {"demo": {"users": [` + strings.Join(users, ",") + `]}, ` + strings.Join(tenants, ",") + `}}`))
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, withDirectory(dir), withRevokeLimit(1000))

	for i, id := range reservedIDs {
		t.Run(id, func(t *testing.T) {
			t.Run("user", func(t *testing.T) {
				s := f.mintIn(t, "demo", id)
				if !f.active(t, s.SessionToken) {
					t.Fatal("a fresh session is not active")
				}
				f.want204(t, f.admin(t, "demo"), "/v1/widget/users/"+url.PathEscape(id)+"/sessions")
				if f.active(t, s.SessionToken) {
					t.Error("the user's session is still active after its user's revocation")
				}
			})
			user := "u" + string(rune('a'+i))
			t.Run("session in tenant", func(t *testing.T) {
				s := f.mintIn(t, id, user)
				f.want204(t, f.ops(t), sessionPath(s.SessionID)+"?tenantId="+url.QueryEscape(id))
				if f.active(t, s.SessionToken) {
					t.Error("the session is still active after its revocation")
				}
			})
			t.Run("tenant", func(t *testing.T) {
				s := f.mintIn(t, id, user)
				f.want204(t, f.ops(t), "/v1/widget/tenants/"+url.PathEscape(id)+"/sessions")
				if f.active(t, s.SessionToken) {
					t.Error("the tenant's session is still active after its tenant's revocation")
				}
			})
		})
	}
}

// TestDotSegmentIDsRefused: "." and ".." are refused as ids when minting
// (and everywhere else ids are read): clients remove them from a URL's
// path, so such a user could never be revoked by its path.
func TestDotSegmentIDsRefused(t *testing.T) {
	f := newFixture(t)
	for _, id := range []string{".", ".."} {
		resp := f.do(t, f.mintRequest(t, f.admin(t, "demo"), `{"userId":"`+id+`"}`))
		e := checkError(t, resp, 400, "validation_error")
		if e.Field == nil || *e.Field != "userId" {
			t.Errorf("%q: field = %v, want userId", id, e.Field)
		}
	}
}

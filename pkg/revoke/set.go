package revoke

import (
	"cmp"
	"iter"
	"slices"
	"time"

	"github.com/causeflow/widget-sessions/pkg/sessionid"
	"github.com/causeflow/widget-sessions/pkg/token"
)

// Set is an index of revocation entries, built for Revoked, which runs on
// every token validation: a few map lookups, no allocation, no clock read.
//
// The zero Set is empty and ready. A Set is not safe for concurrent use
// while it is modified; concurrent calls of Revoked, Len and Entries alone
// are safe. The stores guard theirs with a sync.RWMutex.
type Set struct {
	sessions map[pair]int64 // → expires
	users    map[pair]span
	tenants  map[string]span
	all      span
	hasAll   bool
	// counted is the number of session and user entries of each tenant,
	// the ones Limits.MaxPerTenant bounds.
	counted map[string]int
	// next is the earliest expiry in the set (0 when empty), so that Prune
	// costs nothing until an entry is due.
	next int64
}

// pair keys the session and user maps. A struct of two strings, rather
// than one joined string, makes tenant "a|b" user "c" and tenant "a" user
// "b|c" different keys, and costs no allocation on lookup.
type pair struct{ tenant, subject string }

// span is a time-bounded entry: before in Unix milliseconds (it orders
// tokens by their iat_ms), expires in Unix seconds.
type span struct{ before, expires int64 }

// Revoked reports whether a token with claims c is matched by an entry of
// the set. Entries are matched until pruned, not until their Expires: an
// entry that outlives its expiry a little only matches tokens that are
// expired anyway, and skipping the check keeps the clock off this path.
func (s *Set) Revoked(c *token.Claims) bool {
	iat := c.IssuedAtMilli()
	if s.hasAll && iat <= s.all.before {
		return true
	}
	if len(s.tenants) != 0 {
		if sp, ok := s.tenants[c.Tenant]; ok && iat <= sp.before {
			return true
		}
	}
	if len(s.users) != 0 {
		if sp, ok := s.users[pair{c.Tenant, c.Subject}]; ok && iat <= sp.before {
			return true
		}
	}
	if len(s.sessions) != 0 {
		if _, ok := s.sessions[pair{c.Tenant, c.SessionID}]; ok {
			return true
		}
	}
	return false
}

// Add merges e into the set and returns the entry the set now holds for e's
// key. Merging keeps the later Before and the later Expires, so Add is
// idempotent and order-independent: replicas that apply the same entries in
// any order hold the same set. changed reports whether the set revokes more,
// or longer, than before. An invalid entry is ignored (changed is false).
func (s *Set) Add(e Entry) (merged Entry, changed bool) {
	if e.Validate() != nil {
		return e, false
	}
	in := span{before: e.Before.UnixMilli(), expires: ceilSecond(e.Expires).Unix()}
	if e.Kind == KindSession {
		in.before = 0
	}
	var out span
	switch e.Kind {
	case KindSession:
		if s.sessions == nil {
			s.sessions = make(map[pair]int64)
		}
		k := pair{e.Tenant, e.Subject}
		cur, ok := s.sessions[k]
		out, changed = mergeSpan(span{expires: cur}, ok, in)
		s.sessions[k] = out.expires
		s.count(e.Tenant, ok, 1)
	case KindUser:
		if s.users == nil {
			s.users = make(map[pair]span)
		}
		k := pair{e.Tenant, e.Subject}
		cur, ok := s.users[k]
		out, changed = mergeSpan(cur, ok, in)
		s.users[k] = out
		s.count(e.Tenant, ok, 1)
	case KindTenant:
		if s.tenants == nil {
			s.tenants = make(map[string]span)
		}
		cur, ok := s.tenants[e.Tenant]
		out, changed = mergeSpan(cur, ok, in)
		s.tenants[e.Tenant] = out
	case KindAll:
		out, changed = mergeSpan(s.all, s.hasAll, in)
		s.all, s.hasAll = out, true
	}
	if s.next == 0 || out.expires < s.next {
		s.next = out.expires
	}
	return entryOf(e.Kind, e.Tenant, e.Subject, out), changed
}

// count adds delta to tenant's count, unless the key was there already.
func (s *Set) count(tenant string, existed bool, delta int) {
	if existed {
		return
	}
	if s.counted == nil {
		s.counted = make(map[string]int)
	}
	if s.counted[tenant] += delta; s.counted[tenant] <= 0 {
		delete(s.counted, tenant)
	}
}

// TenantLen returns the number of session and user entries of tenant:
// what Limits.MaxPerTenant bounds.
func (s *Set) TenantLen(tenant string) int { return s.counted[tenant] }

// Has reports whether the set holds an entry with e's key (kind, tenant
// and subject), whatever its times: whether Add(e) would merge rather
// than add.
func (s *Set) Has(e Entry) bool {
	var ok bool
	switch e.Kind {
	case KindSession:
		_, ok = s.sessions[pair{e.Tenant, e.Subject}]
	case KindUser:
		_, ok = s.users[pair{e.Tenant, e.Subject}]
	case KindTenant:
		_, ok = s.tenants[e.Tenant]
	case KindAll:
		ok = s.hasAll
	}
	return ok
}

func mergeSpan(cur span, ok bool, in span) (span, bool) {
	if !ok {
		return in, true
	}
	out := span{before: max(cur.before, in.before), expires: max(cur.expires, in.expires)}
	return out, out != cur
}

// Covers reports whether the set matches every token e matches, for at
// least as long: true when the set holds e (or a later version of it), or a
// tenant-wide or global entry with a later Before. A store uses it to find
// entries lost by a backend. The session rule relies on a session's tokens
// being issued in the second of its KSUID, as the minting service does.
func (s *Set) Covers(e Entry) bool {
	if e.Validate() != nil {
		return true // nothing to cover
	}
	want := span{before: e.Before.UnixMilli(), expires: ceilSecond(e.Expires).Unix()}
	covers := func(sp span, ok bool) bool {
		return ok && sp.before >= want.before && sp.expires >= want.expires
	}
	switch e.Kind {
	case KindSession:
		if exp, ok := s.sessions[pair{e.Tenant, e.Subject}]; ok && exp >= want.expires {
			return true
		}
		created, err := sessionid.Time(e.Subject)
		if err != nil {
			return false
		}
		want.before = created.UnixMilli() + 999 // its tokens are minted in its second
	case KindUser:
		sp, ok := s.users[pair{e.Tenant, e.Subject}]
		if covers(sp, ok) {
			return true
		}
	}
	if e.Kind != KindAll {
		sp, ok := s.tenants[e.Tenant]
		if covers(sp, ok) {
			return true
		}
	}
	return covers(s.all, s.hasAll)
}

// Prune removes the entries whose Expires is before now (second
// resolution) and returns how many it removed. It costs nothing until the
// earliest expiry has passed.
func (s *Set) Prune(now time.Time) int {
	t := now.Unix()
	if s.next == 0 || t <= s.next {
		return 0
	}
	removed := 0
	next := int64(0)
	keep := func(expires int64) bool {
		if expires < t {
			removed++
			return false
		}
		if next == 0 || expires < next {
			next = expires
		}
		return true
	}
	for k, exp := range s.sessions {
		if !keep(exp) {
			delete(s.sessions, k)
			s.count(k.tenant, false, -1)
		}
	}
	for k, sp := range s.users {
		if !keep(sp.expires) {
			delete(s.users, k)
			s.count(k.tenant, false, -1)
		}
	}
	for k, sp := range s.tenants {
		if !keep(sp.expires) {
			delete(s.tenants, k)
		}
	}
	if s.hasAll && !keep(s.all.expires) {
		s.all, s.hasAll = span{}, false
	}
	s.next = next
	return removed
}

// Len returns the number of entries.
func (s *Set) Len() int {
	n := len(s.sessions) + len(s.users) + len(s.tenants)
	if s.hasAll {
		n++
	}
	return n
}

// Entries returns every entry, ordered by kind, tenant and subject.
func (s *Set) Entries() []Entry {
	out := slices.AppendSeq(make([]Entry, 0, s.Len()), s.All())
	slices.SortFunc(out, func(a, b Entry) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Tenant, b.Tenant), cmp.Compare(a.Subject, b.Subject))
	})
	return out
}

// All yields every entry, in no particular order. The set must not be
// modified during the iteration.
func (s *Set) All() iter.Seq[Entry] {
	return func(yield func(Entry) bool) {
		for k, exp := range s.sessions {
			if !yield(entryOf(KindSession, k.tenant, k.subject, span{expires: exp})) {
				return
			}
		}
		for k, sp := range s.users {
			if !yield(entryOf(KindUser, k.tenant, k.subject, sp)) {
				return
			}
		}
		for t, sp := range s.tenants {
			if !yield(entryOf(KindTenant, t, "", sp)) {
				return
			}
		}
		if s.hasAll {
			yield(entryOf(KindAll, "", "", s.all))
		}
	}
}

// Contains reports whether the set holds e's key with a Before and an
// Expires at least e's, that is whether Add(e) would change nothing.
func (s *Set) Contains(e Entry) bool {
	want := span{before: e.Before.UnixMilli(), expires: ceilSecond(e.Expires).Unix()}
	var sp span
	var ok bool
	switch e.Kind {
	case KindSession:
		sp.expires, ok = s.sessions[pair{e.Tenant, e.Subject}]
		want.before = 0
	case KindUser:
		sp, ok = s.users[pair{e.Tenant, e.Subject}]
	case KindTenant:
		sp, ok = s.tenants[e.Tenant]
	case KindAll:
		sp, ok = s.all, s.hasAll
	}
	return ok && sp.before >= want.before && sp.expires >= want.expires
}

func entryOf(kind Kind, tenant, subject string, sp span) Entry {
	e := Entry{Kind: kind, Tenant: tenant, Subject: subject, Expires: time.Unix(sp.expires, 0).UTC()}
	if kind != KindSession {
		e.Before = time.UnixMilli(sp.before).UTC()
	}
	return e
}

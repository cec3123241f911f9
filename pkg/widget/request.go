package widget

// SessionParams are the members of a mint request as the caller sent them:
// nil means absent. Decoding (JSON types, unknown and duplicate members)
// belongs to the transport; the rules below belong to the domain.
type SessionParams struct {
	UserID     *string
	IncidentID *string
	TTLSeconds *int64
}

// Validate applies the API page's rules and returns the request to mint:
// userId required; incidentId optional but, when present, a valid id;
// ttlSeconds 1..86400, default 28800.
func (p SessionParams) Validate() (SessionRequest, error) {
	if p.UserID == nil {
		return SessionRequest{}, FieldError("userId", "is required")
	}
	if err := ValidateID("userId", *p.UserID); err != nil {
		return SessionRequest{}, err
	}
	req := SessionRequest{UserID: *p.UserID, TTL: DefaultTTL}
	if p.IncidentID != nil {
		if err := ValidateID("incidentId", *p.IncidentID); err != nil {
			return SessionRequest{}, err
		}
		req.IncidentID = *p.IncidentID
	}
	if p.TTLSeconds != nil {
		ttl, err := ValidateTTL("ttlSeconds", *p.TTLSeconds)
		if err != nil {
			return SessionRequest{}, err
		}
		req.TTL = ttl
	}
	return req, nil
}

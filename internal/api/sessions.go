package api

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/causeflow/widget-sessions/internal/session"
	"github.com/causeflow/widget-sessions/internal/strictjson"
	"github.com/causeflow/widget-sessions/pkg/jsonwrite"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

// createSessionResponse is the 201 body of POST /v1/widget/sessions.
type createSessionResponse struct {
	SessionID    string `json:"sessionId"`
	SessionToken string `json:"sessionToken"`
	ExpiresAt    string `json:"expiresAt"`
	WidgetURL    string `json:"widgetUrl"`
}

// createSession handles POST /v1/widget/sessions. The order of checks is
// the order a caller can fix them in: who you are (401), what you may do
// (403), what you sent (413, 415, 400), what exists (404).
func createSession(auth Authenticator, minter Minter, metrics *Metrics, widgetURLBase string) gin.HandlerFunc {
	return handle(func(c *gin.Context) (err error) {
		start := time.Now()
		defer func() {
			result := "created"
			if err != nil || c.Writer.Status() != http.StatusCreated { // a panicking Mint leaves err nil
				result = widget.ErrorCode(err)
			}
			metrics.observeMint(result, time.Since(start))
		}()

		caller, err := authenticate(c, auth)
		if err != nil {
			return err
		}
		if err := session.Authorize(caller); err != nil {
			return err
		}
		params, err := decodeSessionParams(c)
		if err != nil {
			return err
		}
		req, err := params.Validate()
		if err != nil {
			return err
		}
		sess, err := minter.Mint(c, caller, req)
		if err != nil {
			return err
		}
		r := requestOf(c)
		r.session, r.user, r.incident = sess.ID, sess.UserID, sess.IncidentID
		// The body holds a bearer credential: no cache may keep it.
		h := c.Writer.Header()
		h["Cache-Control"], h["Pragma"] = noStore, noCache
		writeJSON(c, http.StatusCreated, createSessionResponse{
			SessionID:    sess.ID,
			SessionToken: sess.Token,
			ExpiresAt:    sess.ExpiresAt.UTC().Format(time.RFC3339),
			WidgetURL:    widgetURLBase + "/embed?session=" + url.QueryEscape(sess.ID) + "&tenant=" + url.QueryEscape(sess.Tenant),
		}.appendTo)
		return nil
	})
}

// jsonType is the Content-Type of a JSON answer, as gin's c.JSON sends it.
const jsonType = "application/json; charset=utf-8"

// Header values every mint answers with, shared: net/http only reads them,
// and a later Add would copy, never write through (capacity 1).
var (
	jsonTypeHeader = []string{jsonType}
	noStore        = []string{"no-store"}
	noCache        = []string{"no-cache"}
)

// writeJSON answers status with the JSON that appendTo writes, in a reused
// buffer: net/http copies it to the connection's before Write returns.
// The hot paths answer this way, without gin's reflection.
func writeJSON(c *gin.Context, status int, appendTo func([]byte) []byte) {
	body := jsonwrite.Borrow()
	defer jsonwrite.Return(body)
	*body = appendTo(*body)
	c.Writer.Header()["Content-Type"] = jsonTypeHeader
	c.Writer.WriteHeader(status)
	_, _ = c.Writer.Write(*body) // an error is the client gone: nothing to answer
}

// appendTo appends r as encoding/json writes it to dst, without its
// reflection when every member is plain, as a mint's nearly always are.
func (r createSessionResponse) appendTo(dst []byte) []byte {
	if !jsonwrite.Plain(r.SessionID) || !jsonwrite.Plain(r.SessionToken) || !jsonwrite.Plain(r.ExpiresAt) || !jsonwrite.PlainHTML(r.WidgetURL) {
		b, _ := json.Marshal(r) // strings only: it cannot fail
		return append(dst, b...)
	}
	return jsonwrite.Append(dst, 64+len(r.SessionID)+len(r.SessionToken)+len(r.ExpiresAt)+len(r.WidgetURL)).
		String("sessionId", r.SessionID).String("sessionToken", r.SessionToken).
		String("expiresAt", r.ExpiresAt).StringHTML("widgetUrl", r.WidgetURL).End()
}

// decodeSessionParams reads the JSON body strictly: one object, known
// members, no duplicates, the right JSON types.
func decodeSessionParams(c *gin.Context) (widget.SessionParams, error) {
	body, err := readJSONBody(c)
	if err != nil {
		return widget.SessionParams{}, err
	}
	m, err := strictjson.ParseObject(body, "userId", "incidentId", "ttlSeconds")
	if err != nil {
		return widget.SessionParams{}, validationError(err)
	}
	var p widget.SessionParams
	if p.UserID, err = m.String("userId"); err != nil {
		return p, validationError(err)
	}
	if p.IncidentID, err = m.String("incidentId"); err != nil {
		return p, validationError(err)
	}
	if p.TTLSeconds, err = m.Int("ttlSeconds"); err != nil {
		return p, validationError(err)
	}
	return p, nil
}

// readJSONBody returns the body of a request that must be JSON and at most
// MaxBodyBytes long.
func readJSONBody(c *gin.Context) ([]byte, error) {
	if mediaType(c) != "application/json" {
		return nil, widget.Errorf(widget.CodeUnsupportedMediaType, "Content-Type must be application/json")
	}
	return readBody(c)
}

// mediaType returns the request's media type, lower-cased, without
// parameters; "" when absent or malformed.
func mediaType(c *gin.Context) string {
	h := c.GetHeader("Content-Type")
	switch h {
	case "application/json", "application/x-www-form-urlencoded":
		return h // what nearly every client sends: no parsing needed
	}
	mt, _, err := mime.ParseMediaType(h)
	if err != nil {
		return ""
	}
	return mt
}

// readBody returns the request body, refusing one over MaxBodyBytes.
func readBody(c *gin.Context) ([]byte, error) {
	if n := c.Request.ContentLength; n > MaxBodyBytes {
		return nil, tooLarge()
	} else if n >= 0 {
		// net/http holds the body to its Content-Length: read exactly
		// that, in one allocation.
		body := make([]byte, n)
		if _, err := io.ReadFull(c.Request.Body, body); err != nil {
			return nil, widget.Errorf(widget.CodeValidation, "could not read the request body")
		}
		return body, nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge()
		}
		return nil, widget.Errorf(widget.CodeValidation, "could not read the request body")
	}
	return body, nil
}

func tooLarge() error {
	return widget.Errorf(widget.CodePayloadTooLarge, "request body must be at most %d bytes", MaxBodyBytes)
}

// validationError turns a strict-JSON decoding error into the domain's
// validation error, keeping the field it names.
func validationError(err error) error {
	var se *strictjson.Error
	if errors.As(err, &se) {
		if se.Field == "" {
			return widget.Errorf(widget.CodeValidation, "%s", se.Message)
		}
		return widget.FieldError(se.Field, "%s", se.Message)
	}
	return err
}

package api

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// JWKSMaxAge is how long a client may cache the JWKS. Key rotation waits
// longer than this between publishing a key and signing with it.
const JWKSMaxAge = "300"

// jwks handles GET /.well-known/jwks.json: the public signing keys, with an
// ETag so validators revalidate cheaply.
func jwks(keys KeyPublisher) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		body, etag := keys.JWKS()
		c.Header("Cache-Control", "public, max-age="+JWKSMaxAge)
		c.Header("ETag", etag)
		if etagMatches(c.GetHeader("If-None-Match"), etag) {
			c.Status(http.StatusNotModified)
			return nil
		}
		c.Data(http.StatusOK, "application/jwk-set+json", body)
		return nil
	})
}

// etagMatches implements If-None-Match's weak comparison (RFC 9110 §13.1.2).
func etagMatches(header, etag string) bool {
	for _, v := range strings.Split(header, ",") {
		v = strings.TrimPrefix(strings.TrimSpace(v), "W/")
		if v == "*" || v == strings.TrimPrefix(etag, "W/") {
			return true
		}
	}
	return false
}

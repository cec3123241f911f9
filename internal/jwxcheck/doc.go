// Package jwxcheck holds, in its tests, the hand-written JOSE code of the
// public packages (pkg/verify's token checks, pkg/jwks's key decoding) to
// lestrrat-go/jwx: whatever ours accepts, jwx accepts too, and reads the
// same way. The public packages use the standard library alone, so that a
// gateway that embeds the verifier does not inherit a JOSE library; jwx
// stays here, in the server's module, as the reference they are fuzzed
// against. It has no code of its own.
package jwxcheck

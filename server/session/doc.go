// Package session is edgews's pluggable session verifier: the Verifier
// interface every WebSocket upgrade is checked against, and the three
// built-in verifiers.
//
//   - HTTP asks the operator's backend (URL, method, timeout) about the
//     session id and the request's cookies and expects JSON naming the user
//     and context. Answers are cached (positive and negative answers with
//     their own TTLs) and concurrent checks of the same session share one
//     backend call, so a reconnect storm of thousands of sockets for one
//     session costs one request.
//   - JWT reads a JSON Web Token from the session parameter (or a cookie),
//     checks its signature (HS256, RS256, ES256, EdDSA; keys from config or a
//     JWKS file) and its exp, and maps configurable claims to user and
//     context.
//   - Dev issues sessions in memory (for `edgews --dev` and tests).
//
// A verifier answers with a *Session, or an error wrapping
// ErrUnauthenticated (the request carries no valid session: HTTP 401) or
// ErrUnavailable (the verifier cannot tell right now: HTTP 503). Any other
// error is treated as ErrUnavailable. Verifiers must be safe for concurrent
// use.
//
// Why a one-method interface: every session system (OX middleware, an
// OAuth introspection endpoint, signed tokens) fits "request in, identity
// out", and the server owns everything around it (where the session id
// comes from, what the status codes are, re-verification, expiry).
package session

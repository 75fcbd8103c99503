package main

import "crypto/tls"

// insecureTLS skips certificate checks, for test servers with self-signed
// certificates. It is only used when --insecure is given.
func insecureTLS() *tls.Config {
	return &tls.Config{InsecureSkipVerify: true} //nolint:gosec // opt-in flag for test servers
}

package server

import (
	"crypto/tls"
	"fmt"
	"sync/atomic"
)

// certStore holds the serving certificate; a reload swaps it without
// dropping connections (new handshakes use the new certificate).
type certStore struct {
	cert atomic.Pointer[tls.Certificate]
}

func (c *certStore) load(certFile, keyFile string) error {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return fmt.Errorf("%w: tls: loading %s and %s: %w", ErrConfig, certFile, keyFile, err)
	}
	c.cert.Store(&cert)
	return nil
}

func (c *certStore) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return c.cert.Load(), nil
		},
	}
}

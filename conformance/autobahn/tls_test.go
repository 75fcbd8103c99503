package autobahn_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/edgews/edgews/conformance/autobahn"
)

// selfSigned returns a server configuration for 127.0.0.1 and a client
// configuration that trusts it.
func selfSigned(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "wsconform test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: pool}
}

func TestSecureWebSocket(t *testing.T) {
	t.Parallel()
	srv, cli := selfSigned(t)
	url := rawServer{tls: srv}.start(t)
	sum, err := autobahn.Run(context.Background(), autobahn.Options{URL: url, Cases: []string{"1.1.8", "2.6", "6.4.3"}, Parallel: 3, TLSConfig: cli})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Counts[autobahn.OK] != 3 {
		t.Errorf("over TLS: %s", sum)
	}
	// Without trusting the certificate, the connection fails.
	sum, err = autobahn.Run(context.Background(), autobahn.Options{URL: url, Cases: []string{"1.1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Counts[autobahn.Failed] != 1 {
		t.Errorf("untrusted certificate: %s", sum)
	}
}

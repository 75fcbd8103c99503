package gossip

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
	"sync"
	"testing"
	"time"
)

var (
	testCertOnce sync.Once
	testCert     tls.Certificate
	testCertPool *x509.CertPool
	testCertErr  error
)

// testTLS creates (once) a self-signed certificate for 127.0.0.1-3.
func testTLS(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	testCertOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			testCertErr = err
			return
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1),
			Subject:      pkix.Name{CommonName: "edgews gossip test"},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(24 * time.Hour),
			IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv4(127, 0, 0, 2), net.IPv4(127, 0, 0, 3)},
			KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			IsCA:         true,

			BasicConstraintsValid: true,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			testCertErr = err
			return
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			testCertErr = err
			return
		}
		testCert = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}
		testCertPool = x509.NewCertPool()
		testCertPool.AddCert(cert)
	})
	if testCertErr != nil {
		t.Fatal(testCertErr)
	}
	return testCert, testCertPool
}

func tlsServerConfig(t testing.TB) *tls.Config {
	cert, _ := testTLS(t)
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}
}

func tlsClientConfig(t testing.TB) *tls.Config {
	_, pool := testTLS(t)
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13}
}

// TestPayloadTLS runs the payload path over TLS.
func TestPayloadTLS(t *testing.T) {
	t.Parallel()
	var cfgs []Config
	for i, name := range []string{"tls-a", "tls-b"} {
		c := testConfig(name, []string{"127.0.0.1", "127.0.0.2"}[i])
		c.PayloadTLS, c.PayloadClientTLS = tlsServerConfig(t), tlsClientConfig(t)
		cfgs = append(cfgs, c)
	}
	ns := startCluster(t, cfgs...)
	a, b := ns[0], ns[1]
	b.local.add("s", "s", "c", "u", "/")
	for _, m := range a.Members() {
		if m.Tags[tagScheme] != "https" {
			t.Fatalf("member %s does not advertise https: %v", m.Name, m.Tags)
		}
	}
	if _, err := a.Send(context.Background(), Message{Context: "c", User: "u", Data: []byte("over tls")}); err != nil {
		t.Fatal(err)
	}
	if got := b.local.waitReceived(t, "s", 1, 5*time.Second); string(got[0].Data) != "over tls" {
		t.Fatalf("received %q", got[0].Data)
	}
	stats, err := a.Stats(context.Background())
	if err != nil || len(stats) != 1 || stats[0].Err != nil {
		t.Fatalf("Stats over TLS = %+v, %v", stats, err)
	}
}

package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
)

// writeCert writes a self-signed certificate for 127.0.0.1 with the given
// common name and returns the file paths.
func writeCert(t *testing.T, dir, cn string) (string, string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	cf, kf := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cf, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(kf, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return cf, kf
}

func TestTLSAndCertificateReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cf, kf := writeCert(t, dir, "first")
	ts := startServer(t, func(c *Config) { c.TLS = TLSConfig{CertFile: cf, KeyFile: kf} })
	dial := func() (*websocket.Conn, string) {
		d := websocket.Dialer{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
		sess := ts.dev.Login("tls", "1", 0).ID
		c, resp, err := d.Dial("wss://"+ts.Addr().String()+"/echo?session="+sess, http.Header{"Origin": {"https://" + ts.Addr().String()}})
		if err != nil {
			t.Fatalf("wss: %v %s", err, respText(resp))
		}
		cn := c.UnderlyingConn().(*tls.Conn).ConnectionState().PeerCertificates[0].Subject.CommonName
		return c, cn
	}
	c, cn := dial()
	defer c.Close()
	if cn != "first" {
		t.Fatalf("cert %q", cn)
	}
	c.WriteMessage(websocket.TextMessage, []byte("over tls"))
	if got := readText(t, c); got != "over tls" {
		t.Fatalf("%q", got)
	}
	// Replace the certificate and reload: new handshakes get it, the open socket stays.
	writeCert(t, dir, "second")
	cfg := *ts.Config()
	if _, err := ts.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	c2, cn2 := dial()
	defer c2.Close()
	if cn2 != "second" {
		t.Fatalf("after reload: cert %q", cn2)
	}
	c.WriteMessage(websocket.TextMessage, []byte("still here"))
	if got := readText(t, c); got != "still here" {
		t.Fatalf("%q", got)
	}
}

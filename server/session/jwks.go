package session

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
)

type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	K   string `json:"k"`
}

// ParseJWKS parses a JSON Web Key Set (RFC 7517) into verification keys.
// Keys for encryption ("use":"enc") are skipped; an unsupported or
// malformed key is an error naming its index.
func ParseJWKS(data []byte) ([]jwtKey, error) {
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("not a JWKS document: %w", err)
	}
	if len(set.Keys) == 0 {
		return nil, errors.New("no keys")
	}
	var out []jwtKey
	for i, k := range set.Keys {
		if k.Use == "enc" {
			continue
		}
		key, alg, err := k.decode()
		if err != nil {
			return nil, fmt.Errorf("keys[%d] (kid %q): %w", i, k.Kid, err)
		}
		if k.Alg != "" && k.Alg != alg {
			return nil, fmt.Errorf("keys[%d] (kid %q): alg %q does not fit kty %q", i, k.Kid, k.Alg, k.Kty)
		}
		out = append(out, jwtKey{id: k.Kid, alg: alg, key: key})
	}
	return out, nil
}

func b64(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

func (k jwk) decode() (any, string, error) {
	switch k.Kty {
	case "RSA":
		n, err1 := b64(k.N)
		e, err2 := b64(k.E)
		if err1 != nil || err2 != nil || len(n) == 0 || len(e) == 0 || len(e) > 4 {
			return nil, "", errors.New("bad RSA n or e")
		}
		if len(n)*8 < 2048 {
			return nil, "", errors.New("RSA keys shorter than 2048 bits are refused")
		}
		eInt := int(new(big.Int).SetBytes(e).Int64())
		if eInt < 3 || eInt%2 == 0 {
			return nil, "", errors.New("bad RSA exponent")
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: eInt}, "RS256", nil
	case "EC":
		if k.Crv != "P-256" {
			return nil, "", fmt.Errorf("curve %q is not supported (P-256 only)", k.Crv)
		}
		x, err1 := b64(k.X)
		y, err2 := b64(k.Y)
		if err1 != nil || err2 != nil || len(x) != 32 || len(y) != 32 {
			return nil, "", errors.New("bad EC x or y")
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil, "", fmt.Errorf("EC point: %w", err)
		}
		return pub, "ES256", nil
	case "OKP":
		if k.Crv != "Ed25519" {
			return nil, "", fmt.Errorf("curve %q is not supported (Ed25519 only)", k.Crv)
		}
		x, err := b64(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, "", errors.New("bad Ed25519 x")
		}
		return ed25519.PublicKey(x), "EdDSA", nil
	case "oct":
		secret, err := b64(k.K)
		if err != nil || len(secret) < 32 {
			return nil, "", errors.New("bad oct key (at least 32 bytes)")
		}
		return secret, "HS256", nil
	}
	return nil, "", fmt.Errorf("kty %q is not supported", k.Kty)
}

package main

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// TestWholeProgramZoweJWT runs the gateway with a policy that accepts the
// JWTs of a Zowe API Mediation Layer: the API ML's key endpoint is an
// in-process HTTPS server whose CA the policy's caFile names, and the
// tokens are signed here as the API ML signs them. No live API ML is
// involved.
func TestWholeProgramZoweJWT(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keys := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/gateway/api/v1/auth/keys/public/current" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, Algorithm: "RS256", Use: "sig"}}})
	}))
	defer keys.Close()

	dir := t.TempDir()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: keys.Certificate().Raw})
	if err := os.WriteFile(filepath.Join(dir, "zowe-ca.pem"), ca, 0o600); err != nil {
		t.Fatal(err)
	}
	pol := filepath.Join(dir, "policy.yaml")
	// The simulator checks the gateway's own user ID (NMIGW, by its uid)
	// as IKED does; the gateway checks the caller's.
	doc := "system: SYS1\nprofiles:\n" +
		"  - {name: EZB.NETMGMT.SYS1.*.IPSEC.DISPLAY, uacc: NONE, access: [{id: OPSGRP, level: READ}, {id: NMIGW, level: READ}]}\n" +
		"users: {ZOWEUSR: [OPSGRP]}\n" +
		"identities:\n  uids: {" + strconv.Itoa(os.Getuid()) + ": NMIGW}\n" +
		"  zoweJwt:\n    jwksUrl: " + keys.URL + "/gateway/api/v1/auth/keys/public/current\n    caFile: zowe-ca.pem\n"
	if err := os.WriteFile(pol, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, "--policy", pol)

	sign := func(claims map[string]any) string {
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithType("JWT"))
		if err != nil {
			t.Fatal(err)
		}
		payload, _ := json.Marshal(claims)
		jws, err := signer.Sign(payload)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := jws.CompactSerialize()
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	now := time.Now()
	good := sign(map[string]any{"sub": "zoweusr", "iss": "APIML", "dom": "security-domain",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": "1"})

	who := g.object("/v1/whoami", http.StatusOK, "Cookie", "apimlAuthenticationToken="+good)
	if who["user"] != "ZOWEUSR" || who["authentication"] != "zowe" {
		t.Errorf("whoami with the API ML's cookie: %v", who)
	}
	if st := g.object("/v1/stacks", http.StatusOK, "Authorization", "Bearer "+good); len(st["items"].([]any)) == 0 {
		t.Errorf("stacks with the API ML's token as Bearer: %v", st)
	}
	expired := sign(map[string]any{"sub": "ZOWEUSR", "iss": "APIML", "exp": now.Add(-time.Hour).Unix()})
	p := g.object("/v1/whoami", http.StatusUnauthorized, "Cookie", "apimlAuthenticationToken="+expired)
	if p["detail"] != "the token has expired" {
		t.Errorf("expired token: %v", p)
	}
	badSub := sign(map[string]any{"sub": "zowe.user", "iss": "APIML", "exp": now.Add(time.Hour).Unix()})
	p = g.object("/v1/whoami", http.StatusUnauthorized, "Authorization", "Bearer "+badSub)
	if p["detail"] != "the token's subject is not a user ID of 1 to 8 characters A-Z, 0-9, #, $, @" {
		t.Errorf("bad subject: %v", p)
	}
	// Without credentials: 401 (the policy names no anonymous user).
	g.object("/v1/whoami", http.StatusUnauthorized)
}

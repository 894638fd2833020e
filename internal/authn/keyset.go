package authn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/sync/singleflight"
)

// Refetching a JSON Web Key Set. A token signed by a key the gateway does
// not hold may mean the issuer rotated its keys, so the set is fetched
// again; but anybody can send such tokens, and a fetch for each would let
// them make the gateway hammer the issuer. So a set is refetched at most
// once per keySetRefetch; meanwhile the keys held keep verifying tokens,
// and tokens that none of them verifies are refused.

// keySetRefetch is the least time between two fetches of one key set.
const keySetRefetch = 10 * time.Second

// maxKeySetBytes caps the JWKS document read.
const maxKeySetBytes = 1 << 20

// signingAlgs are the JWS algorithms accepted for signed tokens: the
// asymmetric ones (never "none" nor an HMAC, whose key would be public).
var signingAlgs = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.ES256, jose.ES384, jose.ES512,
	jose.PS256, jose.PS384, jose.PS512, jose.EdDSA,
}

// keySet is the key set of one issuer, at url, fetched on first use and
// refetched, at most once per keySetRefetch, when no key held verifies a
// token. It implements go-oidc's oidc.KeySet, and serves any source of
// JWTs that verifies them against a JWK set. Safe for concurrent use.
type keySet struct {
	url    string
	client *http.Client
	now    func() time.Time
	group  singleflight.Group

	mu      sync.Mutex
	keys    []jose.JSONWebKey
	fetched time.Time // of the last fetch, whether it succeeded or not
	fetches int       // for tests: fetches started
}

func newKeySet(url string, client *http.Client, now func() time.Time) *keySet {
	return &keySet{url: url, client: client, now: now}
}

// errNoKey says that no key of the set verifies a token.
var errNoKey = errors.New("no key of the issuer's key set verifies the token")

// VerifySignature returns the payload of the compact JWS jwt if a key of
// the set verifies it; when none does and a fetch is due, it fetches the
// set once more and tries again.
func (k *keySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	jws, err := jose.ParseSigned(jwt, signingAlgs)
	if err != nil {
		return nil, fmt.Errorf("malformed JWS: %w", err)
	}
	if p, ok := verifyWith(jws, k.held()); ok {
		return p, nil
	}
	// A fetch now if one is due, else the keys of the fetch in flight or
	// of the last one.
	keys, err := k.refetch(ctx)
	if err != nil {
		return nil, err
	}
	if p, ok := verifyWith(jws, keys); ok {
		return p, nil
	}
	return nil, errNoKey
}

// held returns the keys held.
func (k *keySet) held() []jose.JSONWebKey {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.keys
}

// verifyWith tries the keys whose ID matches the token's (all of them when
// the token names none).
func verifyWith(jws *jose.JSONWebSignature, keys []jose.JSONWebKey) ([]byte, bool) {
	kid := ""
	if len(jws.Signatures) > 0 {
		kid = jws.Signatures[0].Header.KeyID
	}
	for _, key := range keys {
		if kid != "" && key.KeyID != kid {
			continue
		}
		if p, err := jws.Verify(&key); err == nil {
			return p, true
		}
	}
	return nil, false
}

// refetch fetches the set, unless a fetch started within keySetRefetch
// (concurrent callers share one fetch), and returns the keys held after
// it. A failed fetch keeps the keys held and counts as a fetch: the
// answer of the issuer's error is not fetched more often than its keys.
func (k *keySet) refetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	ch := k.group.DoChan("", func() (any, error) {
		k.mu.Lock()
		if !k.fetched.IsZero() && k.now().Sub(k.fetched) < keySetRefetch {
			keys := k.keys
			k.mu.Unlock()
			return keys, nil
		}
		k.fetched = k.now()
		k.fetches++
		k.mu.Unlock()
		keys, err := k.fetch()
		k.mu.Lock()
		defer k.mu.Unlock()
		if err != nil {
			return k.keys, err
		}
		k.keys = keys
		return keys, nil
	})
	select {
	case r := <-ch:
		keys, _ := r.Val.([]jose.JSONWebKey)
		return keys, r.Err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// fetch reads the key set (at most 10 s, whoever waits for it).
func (k *keySet) fetch() ([]jose.JSONWebKey, error) { return fetchKeys(k.client, k.url) }

// fetchKeys GETs the JWK set at url (at most 10 s, and maxKeySetBytes) and
// returns its valid public signing keys, which may be none.
func fetchKeys(client *http.Client, url string) ([]jose.JSONWebKey, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("key set %s: %w", url, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("key set: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("key set %s: %s", url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxKeySetBytes+1))
	if err != nil {
		return nil, fmt.Errorf("key set %s: %w", url, err)
	}
	if len(body) > maxKeySetBytes {
		return nil, fmt.Errorf("key set %s: larger than %d bytes", url, maxKeySetBytes)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("key set %s: %w", url, err)
	}
	keys := make([]jose.JSONWebKey, 0, len(set.Keys))
	for _, key := range set.Keys {
		if key.Valid() && key.IsPublic() && (key.Use == "" || key.Use == "sig") {
			keys = append(keys, key)
		}
	}
	return keys, nil
}

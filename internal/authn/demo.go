package authn

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"

	"github.com/nmigw/nmigw/internal/authz"
	"github.com/nmigw/nmigw/internal/policy"
)

// User IDs and groups of the demo policy.
const (
	DemoAnonymous = "ANONYM"
	DemoViewer    = "VIEWER"
	DemoOperator  = "OPERATOR"
	DemoGateway   = "NMIGW" // the gateway process itself, as a socket peer of the simulator
	demoViewers   = "VIEWERS"
	demoOperators = "OPERS"
)

// DemoPolicy returns the policy of `gateway -sim`: anonymous callers and
// the viewer may display every stack, the operator may also control them,
// and the uid of this process (the gateway, as the simulator's socket peer)
// acts as an operator. With stacks, each stack gets discrete DISPLAY and
// CONTROL profiles; without, two generic profiles cover every stack. The
// two tokens are fresh random secrets; the policy holds only their hashes.
func DemoPolicy(system string, stacks []string) (p *policy.Policy, viewerToken, operatorToken string, err error) {
	viewerToken, err = newToken()
	if err != nil {
		return nil, "", "", err
	}
	operatorToken, err = newToken()
	if err != nil {
		return nil, "", "", err
	}
	display := []authz.Entry{
		{ID: DemoAnonymous, Level: authz.AccessRead},
		{ID: demoViewers, Level: authz.AccessRead},
		{ID: demoOperators, Level: authz.AccessRead},
	}
	control := []authz.Entry{{ID: demoOperators, Level: authz.AccessRead}}
	names := stacks
	if len(names) == 0 {
		names = []string{"*"}
	}
	var profiles []authz.Profile
	for _, s := range names {
		profiles = append(profiles,
			authz.Profile{Name: authz.Resource(system, s, authz.Display), UACC: authz.AccessNone, Access: display},
			authz.Profile{Name: authz.Resource(system, s, authz.Control), UACC: authz.AccessNone, Access: control})
	}
	p = &policy.Policy{
		Authz: authz.Config{
			System:   system,
			Profiles: profiles,
			Groups: map[string][]string{
				DemoViewer:   {demoViewers},
				DemoOperator: {demoOperators},
				DemoGateway:  {demoOperators},
			},
		},
		Anonymous: DemoAnonymous,
		Tokens: []policy.TokenID{
			{SHA256: sha256.Sum256([]byte(viewerToken)), User: DemoViewer},
			{SHA256: sha256.Sum256([]byte(operatorToken)), User: DemoOperator},
		},
		UIDs: map[uint32]string{uint32(os.Getuid()): DemoGateway},
	}
	if err := p.Validate(); err != nil {
		return nil, "", "", fmt.Errorf("demo policy: %w", err)
	}
	return p, viewerToken, operatorToken, nil
}

// newToken returns 32 random bytes in unpadded base64url.
func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

package authz

import (
	"context"
	"fmt"
)

// Authorizer answers the one question the gateway asks of SAF: may
// principal p have READ access to resource R of the SERVAUTH class (what
// both DISPLAY and CONTROL resources require)? The policy Model answers
// it from profiles; another backend may ask RACF. Implementations are safe
// for concurrent use.
//
// A nil error means the Decision is the answer, granted or denied. An
// error means the Authorizer could not decide (its backend is out of
// reach, or answered neither yes nor no). Callers fail closed on an error:
// they grant nothing, and they do not report it as a denial either, since
// no one denied anything.
type Authorizer interface {
	// Authorize decides one resource.
	Authorize(ctx context.Context, p Principal, resource string) (Decision, error)
	// AuthorizeBatch decides several resources for one principal: one
	// Decision per resource, in the same order. An error means none of
	// them is decided.
	AuthorizeBatch(ctx context.Context, p Principal, resources []string) ([]Decision, error)
	// Resource returns the resource that guards requests of kind k on a
	// stack, EZB.NETMGMT.<system>.<stack>.IPSEC.<kind>; system "" is the
	// authorizer's own (the policy's system). Behind an NSS server, system
	// is the NSS server's and stack the NSS client's name. AllowAll, which
	// checks no resource, returns "".
	Resource(system, stack string, k Kind) string
}

// Compile-time checks.
var (
	_ Authorizer = (*Model)(nil)
	_ Authorizer = allowAll{}
)

// AllowAll grants every request of every principal, even one without a
// user ID. It stands for no authorization at all, for a gateway that
// serves without a policy (tests and closed labs). Its decisions name no
// profile, and it names no resources.
var AllowAll Authorizer = allowAll{}

// ReasonAllowAll is the reason of every decision of AllowAll.
const ReasonAllowAll = "authorization is off"

type allowAll struct{}

func (allowAll) Authorize(_ context.Context, _ Principal, resource string) (Decision, error) {
	return Decision{Allowed: true, Resource: resource, Reason: ReasonAllowAll}, nil
}

func (a allowAll) AuthorizeBatch(ctx context.Context, p Principal, resources []string) ([]Decision, error) {
	out := make([]Decision, len(resources))
	for i, r := range resources {
		out[i], _ = a.Authorize(ctx, p, r)
	}
	return out, nil
}

func (allowAll) Resource(string, string, Kind) string { return "" }

// Allowed decides, in one batch, which of resources p may read: an error
// if az could not decide, or gave a wrong number of decisions.
func Allowed(ctx context.Context, az Authorizer, p Principal, resources []string) ([]bool, error) {
	ds, err := az.AuthorizeBatch(ctx, p, resources)
	if err != nil {
		return nil, err
	}
	if len(ds) != len(resources) {
		return nil, fmt.Errorf("%d decisions for %d resources", len(ds), len(resources))
	}
	ok := make([]bool, len(ds))
	for i, d := range ds {
		ok[i] = d.Allowed
	}
	return ok, nil
}

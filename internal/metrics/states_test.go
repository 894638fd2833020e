package metrics

import (
	"slices"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/nmigw/nmigw/api"
	"github.com/nmigw/nmigw/internal/ipsec"
	"github.com/nmigw/nmigw/internal/nmi"
)

// apiEnum is the list of known values of a state schema of
// api/openapi.yaml: its x-extensible-enum (the schema is an open string
// whose pattern also admits unknown(N)).
func apiEnum(t *testing.T, schema string) []string {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	s := doc.Components.Schemas[schema]
	if s == nil || s.Value == nil {
		t.Fatalf("api/openapi.yaml has no schema %s", schema)
	}
	if vs, ok := s.Value.Extensions["x-extensible-enum"].([]any); ok && len(vs) > 0 {
		var out []string
		for _, v := range vs {
			str, ok := v.(string)
			if !ok {
				t.Fatalf("%s: x-extensible-enum value %v is not a string", schema, v)
			}
			out = append(out, str)
		}
		return out
	}
	t.Fatalf("%s has no x-extensible-enum", schema)
	return nil
}

// Every state label value of the metrics is the API's name of the state:
// an alert on nmigw_ipsec_dynamic_tunnels{state="negotiating"} means what
// the REST views call negotiating. The API lists the states in wire order
// (PROPOSED codes from 1).
func TestStateLabelsAreTheAPINames(t *testing.T) {
	for _, c := range []struct {
		kind   ipsec.Kind
		schema string
		last   uint8
	}{
		{ipsec.KindIKE, "IkeTunnelState", uint8(nmi.IKETunExpired)},
		{ipsec.KindDynamic, "IPTunnelState", uint8(nmi.IPTunExpired)},
		{ipsec.KindManual, "IPTunnelState", uint8(nmi.IPTunExpired)},
	} {
		enum := apiEnum(t, c.schema)
		if !slices.Equal(c.kind.States(), enum) {
			t.Errorf("%s: metrics label values %q, API %s %q", c.kind, c.kind.States(), c.schema, enum)
		}
		for code := uint8(1); code <= c.last; code++ {
			label := stateLabel(c.kind, c.kind.StateName(code))
			if int(code) > len(enum) || label != enum[code-1] {
				t.Errorf("%s state %d: label %q, API names it %q", c.kind, code, label, enum[min(int(code), len(enum))-1])
			}
			var counts stateCounts = newStateCounts(c.kind)
			counts.add(code)
			if i := slices.Index(counts.n, 1); i < 0 || c.kind.States()[i] != enum[code-1] {
				t.Errorf("%s state %d counted under %d, not under %q", c.kind, code, i, enum[code-1])
			}
		}
		if got := stateLabel(c.kind, c.kind.StateName(c.last+1)); got != stateUnknown {
			t.Errorf("%s state %d: label %q, want %q", c.kind, c.last+1, got, stateUnknown)
		}
	}
}

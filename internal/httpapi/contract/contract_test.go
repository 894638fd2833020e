package contract

import (
	"net/http"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/nmigw/nmigw/internal/httpapi"
)

// TestCheck shows that the validator refuses answers the document does
// not allow, so a passing handler test means something.
func TestCheck(t *testing.T) {
	v, err := New()
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://gw/v1/stacks/TCPIP/summary", nil)
	hdr := http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {"r1"}}
	stats := `{"active":1,"inProgress":0,"expired":0,"localActivationSuccesses":1,"remoteActivationSuccesses":0,"localActivationFailures":0,"remoteActivationFailures":0,"retransmits":0}`
	good := `{"stack":"TCPIP","ikeTunnels":` + stats + `,"dynamicTunnels":` + stats + `}`
	if err := v.Check(req, http.StatusOK, hdr, []byte(good)); err != nil {
		t.Fatalf("valid answer refused: %v", err)
	}
	// IBM's prefix only: the PROPOSED phase 2 block is left out and marked.
	partial := `{"stack":"TCPIP","ikeTunnels":` + stats + `,"partial":["NMsecStatistics"]}`
	if err := v.Check(req, http.StatusOK, hdr, []byte(partial)); err != nil {
		t.Fatalf("partial answer refused: %v", err)
	}
	bad := map[string]struct {
		status int
		hdr    http.Header
		body   string
	}{
		"extra member":       {200, hdr, good[:len(good)-1] + `,"extra":1}`},
		"missing member":     {200, hdr, `{"stack":"TCPIP","dynamicTunnels":` + stats + `}`},
		"unknown partial":    {200, hdr, `{"stack":"TCPIP","ikeTunnels":` + stats + `,"partial":["NMsecBogus"]}`},
		"empty partial":      {200, hdr, `{"stack":"TCPIP","ikeTunnels":` + stats + `,"partial":[]}`},
		"undocumented 418":   {418, hdr, good},
		"no request ID":      {200, http.Header{"Content-Type": {"application/json"}}, good},
		"wrong content type": {200, http.Header{"Content-Type": {"text/plain"}, "X-Request-Id": {"r1"}}, good},
		"negative counter":   {200, hdr, `{"stack":"TCPIP","ikeTunnels":` + stats + `,"dynamicTunnels":` + stats[:10] + `-1` + stats[11:] + `}`},
	}
	for name, c := range bad {
		if err := v.Check(req, c.status, c.hdr, []byte(c.body)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	req, _ = http.NewRequest(http.MethodGet, "http://gw/v1/stacks", nil)
	enum := `{"items":[{"name":"T","filterSet":"sometimes","ipSecurity":true,"ipv6Security":true,"dvipsec":false,"filterLogging":false,"preDecapFiltering":false,"fips140":false,"natKeepAliveSeconds":0}]}`
	if err := v.Check(req, http.StatusOK, hdr, []byte(enum)); err == nil {
		t.Error("enum value outside the document accepted")
	}
	unknown := `{"items":[{"name":"T","filterSet":"unknown(7)","ipSecurity":true,"ipv6Security":true,"dvipsec":false,"filterLogging":false,"preDecapFiltering":false,"fips140":false,"natKeepAliveSeconds":0}]}`
	if err := v.Check(req, http.StatusOK, hdr, []byte(unknown)); err != nil {
		t.Errorf("unknown(N) refused: %v", err)
	}
}

// The document itself leaves answers open (a later version may add
// members) and request bodies closed (a misspelt member is refused); the
// validator closes the answers for the gateway's tests.
func TestDocumentIsOpenForClients(t *testing.T) {
	doc, err := httpapi.LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	requests := map[*openapi3.Schema]bool{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.RequestBody == nil {
				continue
			}
			s := op.RequestBody.Value.Content.Get("application/json").Schema.Value
			requests[s] = true
			if s.AdditionalProperties.Has == nil || *s.AdditionalProperties.Has {
				t.Errorf("%s %s: request body schema is open", method, path)
			}
		}
	}
	for name, ref := range doc.Components.Schemas {
		if s := ref.Value; !requests[s] && s.AdditionalProperties.Has != nil && !*s.AdditionalProperties.Has {
			t.Errorf("%s: closed (additionalProperties: false), though no request body", name)
		}
	}
}

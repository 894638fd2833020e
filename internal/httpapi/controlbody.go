package httpapi

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nmigw/nmigw/internal/nmi"
)

// Reading control requests: ?wait, the targets in the path or the body.

// Limits of control requests.
const (
	// maxWait caps ?wait.
	maxWait = 60 * time.Second
	// maxControlTargets caps the lists of a bulk request.
	maxControlTargets = 1000
)

// parseWait reads ?wait: absent (-1), or a duration from 0 to maxWait.
func parseWait(r *http.Request) (time.Duration, error) {
	s, ok := r.URL.Query()["wait"]
	if !ok {
		return -1, nil
	}
	d, err := time.ParseDuration(s[0])
	if err != nil || d < 0 || d > maxWait {
		return 0, &paramError{Name: "wait", Reason: "not a duration from 0s to 60s, such as 10s"}
	}
	return d, nil
}

// controlText checks one name or tunnel ID for a 48-byte EBCDIC field.
func controlText(name, s string) (nmi.Text48, error) {
	var t nmi.Text48
	if s == "" || strings.TrimSpace(s) != s {
		return t, &paramError{Name: name, Reason: "empty or with leading or trailing blanks"}
	}
	if err := t.Set(s); err != nil {
		return t, &paramError{Name: name, Reason: "longer than 48 characters or not representable in EBCDIC (IBM-1047)"}
	}
	return t, nil
}

// controlBody is the body of a bulk control request.
type controlBody struct {
	TunnelIDs []string `json:"tunnelIds"`
	Names     []string `json:"names"`
	All       *bool    `json:"all"`
}

// target is one object a control request names: a tunnel ID, or a rule
// name (dynamic activation); manual activation adds the name of the ID.
type target struct {
	name, tunnelID string
}

// targets is what a control request names: every eligible object (all),
// or a list of names or tunnel IDs.
type targets struct {
	all  bool
	list []target
}

// keys are the tunnel IDs of the list (nil for all).
func (tg targets) keys() []string {
	if tg.all {
		return nil
	}
	keys := make([]string, 0, len(tg.list))
	for _, t := range tg.list {
		keys = append(keys, t.tunnelID)
	}
	return keys
}

// readBody decodes a control body strictly.
func readBody(r *http.Request) (*controlBody, error) {
	var b controlBody
	if err := decodeStrict(r, &b); err != nil {
		return nil, err
	}
	return &b, nil
}

// textList checks a list of names or tunnel IDs from the body field.
func textList(field string, vals []string, byName bool) ([]target, error) {
	if len(vals) == 0 {
		return nil, &paramError{Name: "body/" + field, Reason: "empty: name at least one"}
	}
	if len(vals) > maxControlTargets {
		return nil, &paramError{Name: "body/" + field, Reason: "more than " + strconv.Itoa(maxControlTargets) + " items"}
	}
	seen := make(map[string]bool, len(vals))
	out := make([]target, len(vals))
	for i, v := range vals {
		name := "body/" + field + "/" + strconv.Itoa(i)
		if _, err := controlText(name, v); err != nil {
			return nil, err
		}
		if seen[v] {
			return nil, &paramError{Name: name, Reason: "repeats an earlier item"}
		}
		seen[v] = true
		if byName {
			out[i].name = v
		} else {
			out[i].tunnelID = v
		}
	}
	return out, nil
}

// bulkTargets reads {"tunnelIds": [...]} or {"all": true}.
func bulkTargets(r *http.Request) (targets, error) {
	b, err := readBody(r)
	if err != nil {
		return targets{}, err
	}
	switch {
	case b.Names != nil:
		return targets{}, &paramError{Name: "body/names", Reason: "not taken here: name tunnels by tunnelIds"}
	case b.All != nil && b.TunnelIDs != nil:
		return targets{}, &paramError{Name: "body", Reason: "give tunnelIds or all, not both"}
	case b.All != nil:
		if !*b.All {
			return targets{}, &paramError{Name: "body/all", Reason: "must be true (or give tunnelIds instead)"}
		}
		return targets{all: true}, nil
	case b.TunnelIDs == nil:
		return targets{}, &paramError{Name: "body", Reason: "give tunnelIds or all"}
	}
	l, err := textList("tunnelIds", b.TunnelIDs, false)
	return targets{list: l}, err
}

// nameTargets reads {"names": [...]}.
func nameTargets(r *http.Request) (targets, error) {
	b, err := readBody(r)
	if err != nil {
		return targets{}, err
	}
	if b.TunnelIDs != nil || b.All != nil {
		return targets{}, &paramError{Name: "body", Reason: "give names (LocalDynVpnRule names) only"}
	}
	if b.Names == nil {
		return targets{}, &paramError{Name: "body/names", Reason: "required"}
	}
	l, err := textList("names", b.Names, true)
	return targets{list: l}, err
}

// pathTarget is the {tunnelId} of a single-tunnel action.
func pathTarget(r *http.Request) (targets, error) {
	id := pathParam(r, "tunnelId")
	if _, err := controlText("tunnelId", id); err != nil {
		return targets{}, err
	}
	return targets{list: []target{{tunnelID: id}}}, nil
}

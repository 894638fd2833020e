// Package safauthtest is a stand-in for ZSS's saf-auth service, for
// tests: an http.Handler that speaks the documented REST shape (see
// package safauth) and decides with a function, such as the policy model.
package safauthtest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/nmigw/nmigw/internal/authz"
)

// Check is one request the server answered.
type Check struct {
	User, Class, Entity string
	Access              authz.Access
}

// Server answers GET .../saf-auth/<USERID>/<CLASS>/<ENTITY>/<ACCESS> as
// ZSS does: 200 with {"authorized": true}, {"authorized": false,
// "message": ...} or {"error": true, "message": ...}; 400 for a broken
// query; 401 without the credentials it wants.
type Server struct {
	// Decide decides a check of class SERVAUTH; other classes answer
	// {"error": true}.
	Decide func(user, entity string, access authz.Access) bool
	// Username and Password, when Username is not "", are the Basic
	// credentials required; Token, when not "", the
	// apimlAuthenticationToken cookie required instead.
	Username, Password, Token string

	mu     sync.Mutex
	checks []Check
}

// ModelDecider decides as the authorizer m of the principal with the user
// ID alone (RACF knows the user's groups; so does the model).
func ModelDecider(m func() *authz.Model) func(user, entity string, access authz.Access) bool {
	return func(user, entity string, access authz.Access) bool {
		return m().Decide(authz.Principal{User: user}, entity, access).Allowed
	}
}

// Checks returns the checks answered so far.
func (s *Server) Checks() []Check {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Check(nil), s.checks...)
}

// Reset forgets the checks answered so far.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks = nil
}

func (s *Server) authenticated(r *http.Request) bool {
	if s.Username != "" {
		u, p, ok := r.BasicAuth()
		return ok && u == s.Username && p == s.Password
	}
	if s.Token != "" {
		c, err := r.Cookie("apimlAuthenticationToken")
		return err == nil && c.Value == s.Token
	}
	return true
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "GET only", http.StatusMethodNotAllowed)
		return
	}
	if !s.authenticated(r) {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "Not Authorized"})
		return
	}
	segs := strings.Split(r.URL.EscapedPath(), "/")
	i := 0
	for i < len(segs) && segs[i] != "saf-auth" {
		i++
	}
	if len(segs)-i != 5 {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "Broken auth query"})
		return
	}
	var q [4]string
	for j := range q {
		v, err := url.PathUnescape(segs[i+1+j])
		if err != nil || v == "" {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "Broken auth query"})
			return
		}
		q[j] = v
	}
	access, err := authz.ParseAccess(q[3])
	if err != nil || access == authz.AccessNone {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "Unexpected access level"})
		return
	}
	s.mu.Lock()
	s.checks = append(s.checks, Check{User: q[0], Class: q[1], Entity: q[2], Access: access})
	s.mu.Unlock()
	switch {
	case !strings.EqualFold(q[1], "SERVAUTH"):
		writeJSON(w, http.StatusOK, map[string]any{"error": true, "message": "class " + q[1] + " not served"})
	case s.Decide(q[0], q[2], access):
		writeJSON(w, http.StatusOK, map[string]any{"authorized": true})
	default:
		writeJSON(w, http.StatusOK, map[string]any{"authorized": false,
			"message": "Permission denied; user='" + q[0] + "', entity='" + q[2] + "', SAF RC=8, RACF RC=8, RSN=0"})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

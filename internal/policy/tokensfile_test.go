package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nmigw/nmigw/internal/authz"
)

func hashOf(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// writeFiles writes name -> content into a new directory and returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const tokensPolicy = `system: SYS1
users: {OPER1: [OPS], OPER2: [OPS]}
identities:
  tokens: [{sha256: "` + "%INLINE%" + `", user: OPER1}]
  tokensFile: secret/tokens.yaml
`

func policyWithTokensFile(inline string) string {
	return strings.Replace(tokensPolicy, "%INLINE%", inline, 1)
}

// A relative tokensFile is read beside the policy file; its tokens follow
// the policy's own, validated and upper-cased like them.
func TestLoadTokensFile(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"policy.yaml": policyWithTokensFile(hashOf("inline-token")),
		"secret/tokens.yaml": "# hashes only\ntokens:\n" +
			"  - {sha256: " + strings.ToUpper(hashOf("file-token")) + ", user: oper2, groups: [extra]}\n" +
			"  - sha256: " + hashOf("other-token") + "\n    user: OPER1\n",
	})
	p, err := Load(filepath.Join(dir, "policy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "secret", "tokens.yaml"); p.TokensFile != want {
		t.Errorf("TokensFile = %q, want %q", p.TokensFile, want)
	}
	var got []string
	for _, tok := range p.Tokens {
		got = append(got, hex.EncodeToString(tok.SHA256[:])+" "+tok.User+" "+strings.Join(tok.Groups, ","))
	}
	want := []string{hashOf("inline-token") + " OPER1 ", hashOf("file-token") + " OPER2 EXTRA", hashOf("other-token") + " OPER1 "}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("tokens\n%v\nwant\n%v", got, want)
	}

	// An absolute path is taken as it is, by Parse too.
	abs := filepath.Join(dir, "secret", "tokens.yaml")
	p, err = Parse([]byte("system: SYS1\nidentities: {tokensFile: " + abs + "}\n"))
	if err != nil || len(p.Tokens) != 2 || p.TokensFile != abs {
		t.Errorf("Parse with an absolute tokensFile: %v, %+v", err, p)
	}
}

// Every problem of a tokens file is an *Error naming the tokens file, the
// line and the key there, inside an *Error naming identities.tokensFile in
// the policy.
func TestTokensFileErrors(t *testing.T) {
	h1, h2 := hashOf("a"), hashOf("b")
	for _, c := range []struct {
		name, tokens string
		line         int
		key          string
		err          error
	}{
		{"plain token", "tokens:\n  - {sha256: my-secret-token, user: OPER2}\n", 2, "tokens[0].sha256", ErrInvalid},
		{"63 hex digits", "tokens:\n  - {sha256: " + h1[1:] + ", user: OPER2}\n", 2, "tokens[0].sha256", ErrInvalid},
		{"65 hex digits", "tokens:\n  - {sha256: " + h1 + "0, user: OPER2}\n", 2, "tokens[0].sha256", ErrInvalid},
		{"not hex", "tokens:\n  - {sha256: " + strings.Repeat("z", 64) + ", user: OPER2}\n", 2, "tokens[0].sha256", ErrInvalid},
		{"no user", "tokens:\n  - {sha256: " + h1 + "}\n", 2, "tokens[0].user", ErrMissingKey},
		{"bad user", "tokens:\n  - {sha256: " + h1 + ", user: TOOLONGUSER}\n", 2, "tokens[0].user", authz.ErrInvalidID},
		{"bad group", "tokens:\n\n  - {sha256: " + h1 + ", user: U, groups: [OK, 'a b']}\n", 3, "tokens[0].groups[1]", authz.ErrInvalidID},
		{"unknown key", "tokens:\n  - {sha256: " + h1 + ", user: U, token: x}\n", 2, "tokens[0].token", ErrUnknownKey},
		{"unknown top key", "tokens: []\nusers: {}\n", 2, "users", ErrUnknownKey},
		{"duplicate in the file", "tokens:\n  - {sha256: " + h2 + ", user: A}\n  - {sha256: " + h2 + ", user: B}\n", 3, "tokens[1].sha256", ErrInvalid},
		{"a list, not a mapping", "- {sha256: " + h1 + ", user: A}\n", 1, "", ErrInvalid},
		{"no tokens key", "# nothing\n{}\n", 2, "tokens", ErrMissingKey},
		{"empty", "", 0, "tokens", ErrMissingKey},
		{"two documents", "tokens: []\n---\ntokens: []\n", 2, "---", ErrInvalid},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{
				"policy.yaml":        policyWithTokensFile(h1),
				"secret/tokens.yaml": c.tokens,
			})
			_, err := Load(filepath.Join(dir, "policy.yaml"))
			var outer *Error
			if !errors.As(err, &outer) || outer.Key != "identities.tokensFile" || outer.Line != 5 || outer.File != "" {
				t.Fatalf("error %v, want one at identities.tokensFile, line 5", err)
			}
			var inner *Error
			if !errors.As(outer.Err, &inner) || inner.File != filepath.Join(dir, "secret", "tokens.yaml") ||
				inner.Line != c.line || inner.Key != c.key || !errors.Is(err, c.err) {
				t.Errorf("error %v: inner %+v, want line %d key %q (%v)", err, inner, c.line, c.key, c.err)
			}
			if strings.Contains(err.Error(), "my-secret-token") {
				t.Errorf("the error repeats the file's value: %v", err)
			}
		})
	}
}

func TestTokensFileMissingOrNotAFile(t *testing.T) {
	for name, files := range map[string]map[string]string{
		"missing":   {"policy.yaml": policyWithTokensFile(hashOf("x"))},
		"directory": {"policy.yaml": policyWithTokensFile(hashOf("x")), "secret/tokens.yaml/x": ""},
	} {
		dir := writeFiles(t, files)
		_, err := Load(filepath.Join(dir, "policy.yaml"))
		var pe *Error
		if !errors.As(err, &pe) || pe.Key != "identities.tokensFile" || !strings.Contains(err.Error(), filepath.Join(dir, "secret", "tokens.yaml")) {
			t.Errorf("%s: error %v", name, err)
		}
	}
}

// A hash both in the policy and in the tokens file is refused: one token
// would stand for two users.
func TestTokensFileDuplicatesPolicy(t *testing.T) {
	h := hashOf("shared")
	dir := writeFiles(t, map[string]string{
		"policy.yaml":        policyWithTokensFile(h),
		"secret/tokens.yaml": "tokens:\n  - {sha256: " + hashOf("other") + ", user: A}\n  - {sha256: " + h + ", user: B}\n",
	})
	_, err := Load(filepath.Join(dir, "policy.yaml"))
	var pe *Error
	if !errors.As(err, &pe) || pe.File != filepath.Join(dir, "secret", "tokens.yaml") || pe.Key != "tokens[1].sha256" ||
		!errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "same hash as identities.tokens[0]") {
		t.Errorf("error %v (%+v)", err, pe)
	}
}

// Reload re-reads the tokens file: a new token works at once, a bad file
// keeps the tokens in force.
func TestReloadRereadsTokensFile(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"policy.yaml":        policyWithTokensFile(hashOf("inline")),
		"secret/tokens.yaml": "tokens:\n  - {sha256: " + hashOf("first") + ", user: OPER2}\n",
	})
	s := NewStore(filepath.Join(dir, "policy.yaml"))
	if err := s.Load(); err != nil {
		t.Fatal(err)
	}
	has := func(token string) bool {
		want := sha256.Sum256([]byte(token))
		for _, tok := range s.Current().Tokens {
			if tok.SHA256 == want {
				return true
			}
		}
		return false
	}
	if !has("first") || has("second") {
		t.Fatal("first load")
	}
	write := func(content string) {
		if err := os.WriteFile(filepath.Join(dir, "secret", "tokens.yaml"), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("tokens:\n  - {sha256: " + hashOf("second") + ", user: OPER2}\n")
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if has("first") || !has("second") || !has("inline") {
		t.Error("after reload: the tokens file was not re-read")
	}
	write("tokens:\n  - {sha256: second, user: OPER2}\n")
	if err := s.Reload(); err == nil || !has("second") {
		t.Errorf("bad tokens file: reload error %v; the policy in force must stay", err)
	}
}

// A program that identifies callers by uid only (iked-sim) loads the
// policy without reading the tokens file, which it need not see.
func TestNoTokensFile(t *testing.T) {
	dir := writeFiles(t, map[string]string{"policy.yaml": policyWithTokensFile(hashOf("inline"))})
	if _, err := Load(filepath.Join(dir, "policy.yaml")); err == nil {
		t.Fatal("Load without the tokens file succeeded")
	}
	s := NewStoreWith(filepath.Join(dir, "policy.yaml"), LoadOptions{NoTokensFile: true})
	if err := s.Load(); err != nil {
		t.Fatal(err)
	}
	p := s.Current()
	if len(p.Tokens) != 1 || p.TokensFile != filepath.Join(dir, "secret", "tokens.yaml") {
		t.Errorf("tokens %+v, file %q", p.Tokens, p.TokensFile)
	}
}

// The Kubernetes base's policy and its tokens Secret load together, as the
// gateway reads them from /etc/nmigw.
func TestDeployPolicyLoads(t *testing.T) {
	p, err := Load(filepath.Join("..", "..", "deploy", "kubernetes", "base", "policy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(p.TokensFile) != "tokens.yaml" || p.fileTokens == 0 || len(p.Tokens) != p.fileTokens {
		t.Errorf("tokens file %q gave %d of %d tokens", p.TokensFile, p.fileTokens, len(p.Tokens))
	}
}

package policy

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/nmigw/nmigw/internal/authz"
)

// MaxFileSize is the largest policy file Load reads.
const MaxFileSize = 8 << 20

// LoadOptions change what LoadWith reads besides the policy file.
type LoadOptions struct {
	// NoTokensFile leaves identities.tokensFile unread (TokensFile is still
	// set): for programs that never see bearer tokens, such as iked-sim,
	// which identifies its peers by uid and so needs no access to the
	// token hashes.
	// It also leaves identities.zoweJwt.caFile unread (RootCAs stays nil):
	// such programs see no JWTs either.
	NoTokensFile bool
	// NoAuthorizationFiles leaves the certificate, key, CA, password and
	// token files of authorization.safEndpoint unread: for programs that
	// do not ask the endpoint, such as iked-sim.
	NoAuthorizationFiles bool
}

// Load reads and validates a policy file, and the tokens file it names.
// Errors name the file, and the line and key where they can.
func Load(path string) (*Policy, error) { return LoadWith(path, LoadOptions{}) }

// LoadWith is Load with options.
func LoadWith(path string, o LoadOptions) (*Policy, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	p, err := parse(data, filepath.Dir(path), o)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", path, err)
	}
	return p, nil
}

// readFile reads at most MaxFileSize bytes; errors begin with the path.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err // *fs.PathError names the path
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, MaxFileSize)
	}
	return data, nil
}

// Parse decodes and validates a policy. Every error that concerns a key
// is an *Error with its line. A relative identities.tokensFile is read
// from the working directory.
func Parse(data []byte) (*Policy, error) { return parse(data, "", LoadOptions{}) }

// parse is Parse with relative paths resolved against dir.
func parse(data []byte, dir string, o LoadOptions) (*Policy, error) {
	root, err := decodeDocument(data, "system")
	if err != nil {
		return nil, err
	}
	w := &walker{lines: map[string]int{}}
	p := &Policy{}
	if err := w.policy(root, p); err != nil {
		return nil, err
	}
	if p.TokensFile != "" {
		if !filepath.IsAbs(p.TokensFile) && dir != "" {
			p.TokensFile = filepath.Join(dir, p.TokensFile)
		}
		if !o.NoTokensFile {
			tokens, err := readTokensFile(p.TokensFile)
			if err != nil {
				return nil, &Error{Line: w.lines[keyTokensFile], Key: keyTokensFile, Err: err}
			}
			p.Tokens = append(p.Tokens, tokens...)
			p.fileTokens = len(tokens)
		}
	}
	if s := p.Authorization.SAF; s != nil && !o.NoAuthorizationFiles {
		if err := w.readAuthorizationFiles(s, dir); err != nil {
			return nil, err
		}
	}
	if p.Zowe != nil && p.Zowe.CAFile != "" {
		if !filepath.IsAbs(p.Zowe.CAFile) && dir != "" {
			p.Zowe.CAFile = filepath.Join(dir, p.Zowe.CAFile)
		}
		if !o.NoTokensFile {
			if p.Zowe.RootCAs, err = readCAFile(p.Zowe.CAFile); err != nil {
				return nil, &Error{Line: w.lineOf(keyZoweCAFile), Key: keyZoweCAFile, Err: err}
			}
		}
	}
	if err := p.Validate(); err != nil {
		var pe *Error
		if errors.As(err, &pe) && pe.Line == 0 && pe.File == "" {
			pe.Line = w.lineOf(pe.Key)
		}
		return nil, err
	}
	return p, nil
}

// decodeDocument decodes one YAML document and returns its root node. An
// empty document is ErrMissingKey for required.
func decodeDocument(data []byte, required string) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{Key: required, Err: fmt.Errorf("%w (the file is empty)", ErrMissingKey)}
		}
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, &Error{Line: extra.Line, Key: "---", Err: fmt.Errorf("%w: more than one YAML document", ErrInvalid)}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	return root, nil
}

const (
	keyTokensFile = "identities.tokensFile"
	keyZoweCAFile = "identities.zoweJwt.caFile"
)

// readCAFile reads a PEM file of CA certificates into a pool. Only a
// regular file (or a link to one): a FIFO or a device would block.
func readCAFile(path string) (*x509.CertPool, error) {
	if fi, err := os.Stat(path); err != nil {
		return nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s: not a regular file", ErrInvalid, path)
	}
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%w: %s holds no PEM certificate", ErrInvalid, path)
	}
	return pool, nil
}

// readTokensFile reads and validates a tokens file (see the package
// documentation). Errors are *Error with File set.
func readTokensFile(path string) ([]TokenID, error) {
	// Only a regular file (or a link to one, as in a mounted Secret): a
	// FIFO or a device would block or never end.
	if fi, err := os.Stat(path); err != nil {
		return nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	fail := func(err error) error {
		var pe *Error
		if errors.As(err, &pe) {
			pe.File = path
			return pe
		}
		return &Error{File: path, Key: "tokens", Err: err}
	}
	root, err := decodeDocument(data, "tokens")
	if err != nil {
		return nil, fail(err)
	}
	w := &walker{lines: map[string]int{}}
	var tokens []TokenID
	if err := w.mapping(root, "", map[string]fieldFunc{"tokens": w.tokens(&tokens)}, "tokens"); err != nil {
		return nil, fail(err)
	}
	v := validator{}
	v.tokens(tokens, func(i int) (string, string) { return "", "tokens[" + strconv.Itoa(i) + "]" })
	if v.err != nil {
		var pe *Error
		if errors.As(v.err, &pe) {
			pe.Line = w.lines[pe.Key]
		}
		return nil, fail(v.err)
	}
	return tokens, nil
}

// walker decodes the node tree by hand so that every unknown key and
// every misshapen value is reported with its line, and remembers the line
// of every key path for the errors of Validate.
type walker struct {
	lines map[string]int
}

// lineOf returns the line of key, or of its nearest parent that has one
// (a missing key is reported at the mapping that lacks it).
func (w *walker) lineOf(key string) int {
	for key != "" {
		if l, ok := w.lines[key]; ok {
			return l
		}
		i := strings.LastIndexByte(key, '.')
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return 0
}

type fieldFunc func(v *yaml.Node, key string) error

func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

func shapeError(n *yaml.Node, key, want string) error {
	return &Error{Line: n.Line, Key: key, Err: fmt.Errorf("%w: want %s", ErrInvalid, want)}
}

func join(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// mapping walks a mapping with a fixed set of keys; a null value counts as
// an empty mapping.
func (w *walker) mapping(n *yaml.Node, key string, fields map[string]fieldFunc, required ...string) error {
	n = deref(n)
	if isNull(n) && len(required) == 0 {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return shapeError(n, key, "a mapping")
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		path := join(key, k.Value)
		f, ok := fields[k.Value]
		if !ok || k.Kind != yaml.ScalarNode {
			return &Error{Line: k.Line, Key: path, Err: ErrUnknownKey}
		}
		if seen[k.Value] {
			return &Error{Line: k.Line, Key: path, Err: fmt.Errorf("%w: key given twice", ErrInvalid)}
		}
		seen[k.Value] = true
		w.lines[path] = v.Line
		if err := f(v, path); err != nil {
			return err
		}
	}
	for _, r := range required {
		if !seen[r] {
			return &Error{Line: n.Line, Key: join(key, r), Err: ErrMissingKey}
		}
	}
	return nil
}

// sequence walks a sequence; a null value counts as an empty one.
func (w *walker) sequence(n *yaml.Node, key string, item func(v *yaml.Node, key string) error) error {
	n = deref(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		return shapeError(n, key, "a list")
	}
	for i, v := range n.Content {
		v = deref(v)
		path := key + "[" + strconv.Itoa(i) + "]"
		w.lines[path] = v.Line
		if err := item(v, path); err != nil {
			return err
		}
	}
	return nil
}

// scalar decodes a string value; null is "".
func scalar(n *yaml.Node, key string) (string, error) {
	n = deref(n)
	if isNull(n) {
		return "", nil
	}
	if n.Kind != yaml.ScalarNode {
		return "", shapeError(n, key, "a single value")
	}
	return n.Value, nil
}

func str(dst *string) fieldFunc {
	return func(v *yaml.Node, key string) (err error) {
		*dst, err = scalar(v, key)
		return err
	}
}

func (w *walker) strs(dst *[]string) fieldFunc {
	return func(v *yaml.Node, key string) error {
		return w.sequence(v, key, func(item *yaml.Node, key string) error {
			s, err := scalar(item, key)
			*dst = append(*dst, s)
			return err
		})
	}
}

func (w *walker) policy(n *yaml.Node, p *Policy) error {
	return w.mapping(n, "", map[string]fieldFunc{
		"system": str(&p.Authz.System),
		"superusers": func(v *yaml.Node, key string) error {
			return w.mapping(v, key, map[string]fieldFunc{
				"users":  w.strs(&p.Authz.SuperUsers),
				"groups": w.strs(&p.Authz.SuperGroups),
			})
		},
		"anonymous":      str(&p.Anonymous),
		"profiles":       func(v *yaml.Node, key string) error { return w.sequence(v, key, w.profile(p)) },
		"users":          w.users(p),
		"identities":     func(v *yaml.Node, key string) error { return w.identities(v, key, p) },
		keyAuthorization: func(v *yaml.Node, key string) error { return w.authorization(v, key, p) },
	}, "system")
}

func (w *walker) profile(p *Policy) func(*yaml.Node, string) error {
	return func(v *yaml.Node, key string) error {
		var prof authz.Profile
		err := w.mapping(v, key, map[string]fieldFunc{
			"name": str(&prof.Name),
			"uacc": level(&prof.UACC),
			"access": func(v *yaml.Node, key string) error {
				return w.sequence(v, key, func(v *yaml.Node, key string) error {
					var e authz.Entry
					err := w.mapping(v, key, map[string]fieldFunc{
						"id":    str(&e.ID),
						"level": level(&e.Level),
					}, "id", "level")
					prof.Access = append(prof.Access, e)
					return err
				})
			},
		}, "name")
		p.Authz.Profiles = append(p.Authz.Profiles, prof)
		return err
	}
}

func level(dst *authz.Access) fieldFunc {
	return func(v *yaml.Node, key string) error {
		s, err := scalar(v, key)
		if err != nil {
			return err
		}
		if *dst, err = authz.ParseAccess(s); err != nil {
			return &Error{Line: v.Line, Key: key, Err: err}
		}
		return nil
	}
}

// users walks the user -> groups mapping, whose keys are user IDs.
func (w *walker) users(p *Policy) fieldFunc {
	return func(v *yaml.Node, key string) error {
		v = deref(v)
		if isNull(v) {
			return nil
		}
		if v.Kind != yaml.MappingNode {
			return shapeError(v, key, "a mapping of user IDs to lists of groups")
		}
		p.Authz.Groups = map[string][]string{}
		for i := 0; i+1 < len(v.Content); i += 2 {
			k, g := deref(v.Content[i]), v.Content[i+1]
			path := join(key, k.Value)
			w.lines[path] = k.Line
			if k.Kind != yaml.ScalarNode {
				return shapeError(k, path, "a user ID")
			}
			if _, dup := p.Authz.Groups[k.Value]; dup {
				return &Error{Line: k.Line, Key: path, Err: fmt.Errorf("%w: user given twice", ErrInvalid)}
			}
			var groups []string
			if err := w.strs(&groups)(g, path); err != nil {
				return err
			}
			p.Authz.Groups[k.Value] = groups
		}
		return nil
	}
}

func (w *walker) identities(n *yaml.Node, key string, p *Policy) error {
	return w.mapping(n, key, map[string]fieldFunc{
		"tokens":     w.tokens(&p.Tokens),
		"tokensFile": str(&p.TokensFile),
		"certificates": func(v *yaml.Node, key string) error {
			return w.sequence(v, key, func(v *yaml.Node, key string) error {
				var c CertID
				err := w.mapping(v, key, map[string]fieldFunc{
					"subject": str(&c.Subject),
					"user":    str(&c.User),
					"groups":  w.strs(&c.Groups),
				}, "subject")
				p.Certificates = append(p.Certificates, c)
				return err
			})
		},
		"oidc": func(v *yaml.Node, key string) error {
			o := &OIDC{}
			p.OIDC = o
			return w.mapping(v, key, map[string]fieldFunc{
				"issuer":      str(&o.Issuer),
				"audience":    str(&o.Audience),
				"userClaim":   str(&o.UserClaim),
				"groupsClaim": str(&o.GroupsClaim),
				"users":       w.stringMap(&o.Names.Users),
				"userPrefix":  str(&o.Names.Prefix),
				"userDomain":  str(&o.Names.Domain),
				"groups":      w.stringMap(&o.Groups),
			}, "issuer", "audience")
		},
		"certificateCN": func(v *yaml.Node, key string) error {
			return w.mapping(v, key, map[string]fieldFunc{
				"prefix": str(&p.CertificateCN.Prefix),
				"domain": str(&p.CertificateCN.Domain),
			})
		},
		"zoweJwt": func(v *yaml.Node, key string) error {
			z := &ZoweJWT{}
			p.Zowe = z
			return w.mapping(v, key, map[string]fieldFunc{
				"jwksUrl": str(&z.JWKSURL),
				"issuer":  str(&z.Issuer),
				"caFile":  str(&z.CAFile),
			}, "jwksUrl")
		},
		"uids": func(v *yaml.Node, key string) error {
			v = deref(v)
			if isNull(v) {
				return nil
			}
			if v.Kind != yaml.MappingNode {
				return shapeError(v, key, "a mapping of uids to user IDs")
			}
			p.UIDs = map[uint32]string{}
			for i := 0; i+1 < len(v.Content); i += 2 {
				k, u := deref(v.Content[i]), v.Content[i+1]
				path := join(key, k.Value)
				uid, err := strconv.ParseUint(k.Value, 10, 32)
				if err != nil || k.Kind != yaml.ScalarNode {
					return shapeError(k, path, "a uid (0 to 4294967295)")
				}
				if _, dup := p.UIDs[uint32(uid)]; dup {
					return &Error{Line: k.Line, Key: path, Err: fmt.Errorf("%w: uid %d mapped twice", ErrInvalid, uid)}
				}
				w.lines[path] = u.Line
				if p.UIDs[uint32(uid)], err = scalar(u, path); err != nil {
					return err
				}
			}
			return nil
		},
	})
}

// stringMap walks a mapping of strings to strings (names to IDs).
func (w *walker) stringMap(dst *map[string]string) fieldFunc {
	return func(v *yaml.Node, key string) error {
		v = deref(v)
		if isNull(v) {
			return nil
		}
		if v.Kind != yaml.MappingNode {
			return shapeError(v, key, "a mapping of names to IDs")
		}
		*dst = map[string]string{}
		for i := 0; i+1 < len(v.Content); i += 2 {
			k := deref(v.Content[i])
			path := join(key, k.Value)
			if k.Kind != yaml.ScalarNode {
				return shapeError(k, path, "a name")
			}
			if _, dup := (*dst)[k.Value]; dup {
				return &Error{Line: k.Line, Key: path, Err: fmt.Errorf("%w: name given twice", ErrInvalid)}
			}
			w.lines[path] = k.Line
			s, err := scalar(v.Content[i+1], path)
			if err != nil {
				return err
			}
			(*dst)[k.Value] = s
		}
		return nil
	}
}

// tokens walks a list of {sha256, user, groups}.
func (w *walker) tokens(dst *[]TokenID) fieldFunc {
	return func(v *yaml.Node, key string) error {
		return w.sequence(v, key, func(v *yaml.Node, key string) error {
			var t TokenID
			var hash string
			err := w.mapping(v, key, map[string]fieldFunc{
				"sha256": str(&hash),
				"user":   str(&t.User),
				"groups": w.strs(&t.Groups),
			}, "sha256", "user")
			if err == nil {
				if t.SHA256, err = ParseHash(hash); err != nil {
					err = &Error{Line: w.lines[key+".sha256"], Key: key + ".sha256", Err: err}
				}
			}
			*dst = append(*dst, t)
			return err
		})
	}
}

// ParseHash decodes the 64 hexadecimal digits of a SHA-256.
func ParseHash(s string) ([32]byte, error) {
	var h [32]byte
	if len(s) != 64 {
		return h, fmt.Errorf("%w: a SHA-256 is 64 hexadecimal digits, have %d characters", ErrInvalid, len(s))
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, fmt.Errorf("%w: a SHA-256 is 64 hexadecimal digits: %v", ErrInvalid, err)
	}
	return h, nil
}

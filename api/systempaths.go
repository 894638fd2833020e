package api

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// The routes of one stack answer under /v1/stacks/{stack} (the default
// system) and under /v1/systems/{system}/stacks/{stack}. OpenAPI 3.0 has
// no reusable path items, so the document holds both: the second set,
// between the markers below, is made from the first by SystemPaths
// (`go generate ./api`), and a test keeps it current.

const (
	beginSystemPaths = "  # BEGIN system paths: generated from the /v1/stacks paths by `go generate ./api`; do not edit.\n"
	endSystemPaths   = "  # END system paths\n"
	beginSystemStack = "    # BEGIN SystemStack: generated from Stack by `go generate ./api`; do not edit.\n"
	endSystemStack   = "    # END SystemStack\n"
)

// Differences between a /v1/stacks operation and its copy on a system.
const (
	// SystemOperationSuffix ends the operationId of a copy.
	SystemOperationSuffix = "InSystem"
	systemParamRef        = `- $ref: "#/components/parameters/SystemName"`
	systemSummarySuffix   = " (on a system)"
)

// systemSchemas are the answers that differ on a system: a stack behind
// an NSS server has no NMsec_GET_STACKINFO fields.
var systemSchemas = map[string]string{
	`$ref: "#/components/schemas/Stack"`:     `$ref: "#/components/schemas/SystemStack"`,
	`$ref: "#/components/schemas/StackList"`: `$ref: "#/components/schemas/SystemStackList"`,
}

var (
	pathKey   = regexp.MustCompile(`^  (/[^:\s]*(?::[A-Za-z]+)?):\s*$`)
	opIDLine  = regexp.MustCompile(`^(\s+operationId: )(\S+)\s*$`)
	summaryLn = regexp.MustCompile(`^(\s+summary: )(.+)$`)
	paramsLn  = regexp.MustCompile(`^( {6})parameters:\s*$`)
)

// SystemPaths returns doc with the system copies of every path item under
// /v1/stacks, and the SystemStack schema, made afresh from the originals
// and placed where they were (the first time: after the last /v1/stacks
// path item, after the Stack schema).
func SystemPaths(doc []byte) ([]byte, error) {
	src, pathsAt, err := cut(string(doc), beginSystemPaths, endSystemPaths)
	if err != nil {
		return nil, err
	}
	src, schemaAt, err := cut(src, beginSystemStack, endSystemStack)
	if err != nil {
		return nil, err
	}
	var items []string
	lastItem := -1
	var stack string
	stackEnd := -1
	lines := strings.SplitAfter(src, "\n")
	section := ""
	off := 0
	for i := 0; i < len(lines); {
		ln := lines[i]
		if ln == "" {
			break
		}
		if ln != "\n" && ln[0] != ' ' && ln[0] != '#' {
			section = strings.TrimSpace(ln)
		} else if len(ln) > 3 && strings.HasPrefix(ln, "  ") && ln[2] != ' ' && ln[2] != '#' && strings.HasPrefix(section, "components:") {
			section = "components:" + strings.TrimSpace(ln)
		}
		// A block: its key line and every deeper (or blank) line.
		block := func(indent string) []string {
			j := i + 1
			for j < len(lines) && (strings.HasPrefix(lines[j], indent+" ") || lines[j] == "\n") {
				j++
			}
			return lines[i:j]
		}
		var b []string
		m := pathKey.FindStringSubmatch(strings.TrimRight(ln, "\n"))
		switch {
		case section == "paths:" && m != nil && (m[1] == "/v1/stacks" || strings.HasPrefix(m[1], "/v1/stacks/")):
			b = block("  ")
			c, err := systemItem(b)
			if err != nil {
				return nil, fmt.Errorf("api: %s: %w", m[1], err)
			}
			items = append(items, c)
			lastItem = off + len(strings.Join(b, ""))
		case section == "components:schemas:" && ln == "    Stack:\n":
			b = block("    ")
			stack = systemStack(b)
			stackEnd = off + len(strings.Join(b, ""))
		default:
			b = lines[i : i+1]
		}
		off += len(strings.Join(b, ""))
		i += len(b)
	}
	if len(items) == 0 || stack == "" {
		return nil, errors.New("api: no /v1/stacks paths or no Stack schema")
	}
	if pathsAt < 0 {
		pathsAt = lastItem
	}
	if schemaAt < 0 {
		schemaAt = stackEnd
	}
	ins := []struct {
		at   int
		text string
	}{
		{pathsAt, beginSystemPaths + strings.Join(items, "") + endSystemPaths},
		{schemaAt, beginSystemStack + stack + endSystemStack},
	}
	if ins[0].at > ins[1].at {
		ins[0], ins[1] = ins[1], ins[0]
	}
	out := src[:ins[0].at] + ins[0].text + src[ins[0].at:ins[1].at] + ins[1].text + src[ins[1].at:]
	return []byte(out), nil
}

// cut removes the region from begin to end out of src and returns where
// it was (-1: nowhere).
func cut(src, begin, end string) (string, int, error) {
	b := strings.Index(src, begin)
	if b < 0 {
		return src, -1, nil
	}
	e := strings.Index(src[b:], end)
	if e < 0 {
		return "", 0, fmt.Errorf("api: %q without its end", strings.TrimSpace(begin))
	}
	return src[:b] + src[b+e+len(end):], b, nil
}

// systemStack is the SystemStack schema made from the Stack schema: the
// same members, only the name required.
func systemStack(item []string) string {
	var b strings.Builder
	b.WriteString("    SystemStack:\n")
	skip := false
	for _, ln := range item[1:] {
		if skip && strings.HasPrefix(ln, "        ") {
			continue
		}
		skip = false
		switch {
		case strings.HasPrefix(ln, "      description:"):
			b.WriteString(systemStackDescription)
			skip = true
			continue
		case strings.HasPrefix(ln, "      required:"):
			b.WriteString("      required: [name]\n")
			continue
		}
		b.WriteString(ln)
	}
	return b.String()
}

const systemStackDescription = `      description: |
        A stack of a system, as ` + "`Stack`" + `. A stack behind an NSS server
        has ` + "`name`" + ` and ` + "`nss`" + ` only (from the client's NMsecClientInfo):
        the NSS server does not route NMsec_GET_STACKINFO to its clients, so
        the members that come from it are absent. A stack of an IKE daemon
        has every member that ` + "`Stack`" + ` requires.
`

// systemItem is the copy of one /v1/stacks path item on a system.
func systemItem(item []string) (string, error) {
	var b strings.Builder
	key := strings.Replace(item[0], "/v1/stacks", "/v1/systems/{system}/stacks", 1)
	b.WriteString(key)
	ops, params := 0, 0
	has404 := false
	for _, ln := range item[1:] {
		body := strings.TrimRight(ln, "\n")
		if m := opIDLine.FindStringSubmatch(body); m != nil {
			b.WriteString(m[1] + m[2] + SystemOperationSuffix + "\n")
			ops++
			has404 = false
			continue
		}
		// Every operation on a system can answer 404: no such system.
		switch body {
		case `        "404":`:
			has404 = true
		case `        "500":`:
			if !has404 {
				b.WriteString("        \"404\":\n          $ref: \"#/components/responses/NotFound\"\n")
				has404 = true
			}
		}
		if m := summaryLn.FindStringSubmatch(body); m != nil && strings.HasPrefix(m[1], "      summary") {
			b.WriteString(m[1] + m[2] + systemSummarySuffix + "\n")
			continue
		}
		t := strings.TrimSpace(body)
		if r, ok := systemSchemas[t]; ok {
			b.WriteString(strings.Replace(ln, t, r, 1))
			continue
		}
		b.WriteString(ln)
		if m := paramsLn.FindStringSubmatch(body); m != nil {
			b.WriteString(m[1] + "  " + systemParamRef + "\n")
			params++
		}
	}
	if ops == 0 || params != ops {
		return "", fmt.Errorf("%d operations, %d parameter lists: each operation needs its own", ops, params)
	}
	return b.String(), nil
}

// Command system-paths writes the copies of the /v1/stacks path items
// under /v1/systems/{system} into the API document named by its argument
// (api.SystemPaths); `go generate ./api` runs it.
package main

import (
	"fmt"
	"os"

	"github.com/nmigw/nmigw/api"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: system-paths openapi.yaml")
		os.Exit(2)
	}
	doc, err := os.ReadFile(os.Args[1])
	if err == nil {
		doc, err = api.SystemPaths(doc)
	}
	if err == nil {
		err = os.WriteFile(os.Args[1], doc, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "system-paths:", err)
		os.Exit(1)
	}
}

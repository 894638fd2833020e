// Package flagenv fills the flags of a command that were not given on its
// command line from environment variables: PREFIX_ and the flag's name in
// upper snake case (--pool-size is NMIGW_POOL_SIZE for prefix "NMIGW_").
// An empty variable counts as unset. The command line wins over the
// environment.
package flagenv

import (
	"flag"
	"fmt"
	"strings"
)

// Name is the environment variable of a flag.
func Name(prefix, flagName string) string {
	return prefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Apply sets every flag of the parsed fs that the command line did not
// give from its variable in getenv. It returns the names of the flags now
// set, by either. A value the flag refuses is an error naming the
// variable; no flag after it is set.
func Apply(fs *flag.FlagSet, prefix string, getenv func(string) string) (map[string]bool, error) {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || set[f.Name] {
			return
		}
		name := Name(prefix, f.Name)
		v := getenv(name)
		if v == "" {
			return
		}
		if e := fs.Set(f.Name, v); e != nil {
			err = fmt.Errorf("environment %s=%q: %w", name, v, e)
			return
		}
		set[f.Name] = true
	})
	return set, err
}

package schema

import (
	"os"
	"strings"
)

// Secret resolves a secret a plugin's block gives in one of three
// attributes: name (the value itself), name_env (an environment variable
// holding it) or name_file (a file holding it; a trailing newline is
// dropped). Pass "" for a form the block does not offer. At most one may be
// set; none gives "". Errors are AttributeErrors naming the attribute, never
// the secret.
func Secret(name, literal, env, file string) (string, error) {
	n := 0
	for _, v := range []string{literal, env, file} {
		if v != "" {
			n++
		}
	}
	switch {
	case n > 1:
		return "", AttrError(name, "set at most one of "+name+", "+name+"_env and "+name+"_file")
	case env != "":
		v, ok := os.LookupEnv(env)
		if !ok || v == "" {
			return "", AttrError(name+"_env", "environment variable "+env+" is empty or unset")
		}
		return v, nil
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", AttrError(name+"_file", "cannot be read: "+err.Error())
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return "", AttrError(name+"_file", file+" is empty")
		}
		return v, nil
	}
	return literal, nil
}

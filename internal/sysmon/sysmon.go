package sysmon

import (
	"strings"
)

// Setting is the GODEBUG setting that keeps sysmon from parking.
const Setting = "schedtrace=2147483647"

// Env returns environ with Setting added to its GODEBUG, and true; or
// environ as it is and false when its GODEBUG already sets schedtrace.
func Env(environ []string) ([]string, bool) {
	out := make([]string, 0, len(environ)+1)
	godebug := Setting
	for _, kv := range environ {
		v, ok := strings.CutPrefix(kv, "GODEBUG=")
		if !ok {
			out = append(out, kv)
			continue
		}
		if setsSchedtrace(v) {
			return environ, false
		}
		if v != "" {
			godebug = v + "," + Setting
		}
	}
	return append(out, "GODEBUG="+godebug), true
}

// setsSchedtrace reports whether a GODEBUG value sets schedtrace.
func setsSchedtrace(godebug string) bool {
	for kv := range strings.SplitSeq(godebug, ",") {
		if k, _, _ := strings.Cut(strings.TrimSpace(kv), "="); k == "schedtrace" {
			return true
		}
	}
	return false
}

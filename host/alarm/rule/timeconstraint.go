package rule

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
)

// TimeConstraint limits when an alarm is evaluated: from each activation of
// the cron expression Start, for Duration seconds, in Timezone (IANA name;
// empty is UTC).
type TimeConstraint struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Start       string `json:"start"`
	Duration    int    `json:"duration"`
	Timezone    string `json:"timezone"`
}

// cronParser reads croniter's common form: five fields (minute hour
// day-of-month month day-of-week) or a descriptor such as @daily.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// MaxConstraintDuration bounds a time constraint's duration: one year.
const MaxConstraintDuration = 366 * 24 * 3600

// ParseTimeConstraints validates an alarm's time_constraints list and fills
// Aodh's defaults (description "Time constraint at <start> lasting for <n>
// seconds"). Names must be unique. Errors are *FieldError on
// "time_constraints[i].<field>".
func ParseTimeConstraints(raw json.RawMessage) ([]TimeConstraint, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	if len(raw) > MaxRuleBytes {
		return nil, fieldErr("time_constraints", "must be at most %d bytes of JSON", MaxRuleBytes)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fieldErr("time_constraints", "must be a list of {name, start, duration, timezone, description}")
	}
	if len(items) > MaxTimeConstraints {
		return nil, fieldErr("time_constraints", "at most %d time constraints", MaxTimeConstraints)
	}
	out := make([]TimeConstraint, 0, len(items))
	seen := map[string]bool{}
	for i, it := range items {
		o, err := decodeObject(fmt.Sprintf("time_constraints[%d]", i), it)
		if err != nil {
			return nil, err
		}
		var tc TimeConstraint
		if tc.Name, err = o.str("name", true, ""); err != nil {
			return nil, err
		}
		if seen[tc.Name] {
			return nil, fieldErr(o.name("name"), "time constraint names must be unique for a given alarm")
		}
		seen[tc.Name] = true
		if tc.Description, err = o.str("description", false, ""); err != nil {
			return nil, err
		}
		if tc.Start, err = o.str("start", true, ""); err != nil {
			return nil, err
		}
		if _, err := cronParser.Parse(tc.Start); err != nil {
			return nil, fieldErr(o.name("start"), "invalid cron expression %q: %v", tc.Start, err)
		}
		v, ok := o.take("duration")
		if !ok {
			return nil, fieldErr(o.name("duration"), "mandatory field missing")
		}
		o.m["duration"] = v
		if tc.Duration, err = o.integer("duration", 0, 0, MaxConstraintDuration); err != nil {
			return nil, err
		}
		if tc.Timezone, err = o.str("timezone", false, ""); err != nil {
			return nil, err
		}
		if tc.Timezone != "" {
			if _, err := location(tc.Timezone); err != nil || tc.Timezone == "Local" {
				return nil, fieldErr(o.name("timezone"), "timezone %s is not valid", tc.Timezone)
			}
		}
		if tc.Description == "" {
			tc.Description = fmt.Sprintf("Time constraint at %s lasting for %d seconds", tc.Start, tc.Duration)
		}
		if err := o.rest(); err != nil {
			return nil, err
		}
		out = append(out, tc)
	}
	return out, nil
}

// WithinTimeConstraints reports whether now falls in at least one
// constraint (true when there are none), as Aodh's evaluator decides: the
// latest activation of start at or before now, in the constraint's
// timezone, is at most duration seconds ago; or the next activation is
// less than a minute away (Aodh's minute-precision "exact match", which
// opens each window up to a minute early). Constraints that
// do not parse never match.
func WithinTimeConstraints(tcs []TimeConstraint, now time.Time) bool {
	if len(tcs) == 0 {
		return true
	}
	for _, tc := range tcs {
		sched, err := cronParser.Parse(tc.Start)
		if err != nil {
			continue
		}
		loc, err := location(tc.Timezone)
		if err != nil {
			continue
		}
		t := now.In(loc)
		// Next(x) is the first activation strictly after x (whole seconds).
		if a := sched.Next(t.Truncate(time.Second).Add(-time.Second)); !a.IsZero() && a.Sub(t) < time.Minute && a.Sub(t) > -time.Minute {
			return true
		}
		lo := t.Add(-time.Duration(tc.Duration) * time.Second).Truncate(time.Second)
		if a := sched.Next(lo.Add(-time.Second)); !a.IsZero() && !a.After(t) {
			return true
		}
	}
	return false
}

// locations caches loaded timezones: time.LoadLocation reads and parses a
// zoneinfo file on every call, and every evaluation of an alarm with time
// constraints needs its zones. Only names that loaded are kept, so the
// cache is bounded by the IANA database (a few hundred zones).
var locations sync.Map // string -> *time.Location

func location(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	if l, ok := locations.Load(name); ok {
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	locations.Store(name, l)
	return l, nil
}

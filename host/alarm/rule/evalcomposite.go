package rule

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// target is one leaf of a composite rule under evaluation (Aodh's
// RuleTarget): evaluated at most once, lazily, as the and/or short-circuit
// asks for it.
type target struct {
	rule            Rule
	name            string
	state, trending string
	evaluated       bool
}

type compositeRun struct {
	e       *Evaluator
	ctx     context.Context
	project string
	now     time.Time
	targets []*target
	err     error
}

func (c *compositeRun) eval(t *target) {
	if t.evaluated || c.err != nil {
		return
	}
	r, err := c.e.evalRule(c.ctx, c.project, t.rule, c.now)
	if err != nil {
		c.err = err
		return
	}
	t.state, t.trending, t.evaluated = r.state, r.trending, true
}

// node mirrors the rule tree with its leaves bound to targets.
type node struct {
	op   string
	kids []*node
	t    *target
}

func (c *compositeRun) build(r *CompositeRule) *node {
	if r.Leaf != nil {
		t := &target{rule: r.Leaf, name: fmt.Sprintf("rule%d", len(c.targets)+1)}
		c.targets = append(c.targets, t)
		return &node{t: t}
	}
	n := &node{op: r.Op}
	for _, k := range r.Children {
		n.kids = append(n.kids, c.build(k))
	}
	return n
}

// truth evaluates the alarm expression (want = alarm) or the ok expression
// (want = ok): "and" of alarm is the "or" of ok and the other way round.
func (c *compositeRun) truth(n *node, want string) bool {
	if n.t != nil {
		c.eval(n.t)
		return n.t.state == want
	}
	all := (n.op == "and") == (want == StateAlarm)
	for _, k := range n.kids {
		v := c.truth(k, want)
		if c.err != nil {
			return false
		}
		if all && !v {
			return false
		}
		if !all && v {
			return true
		}
	}
	return all
}

func (n *node) String() string {
	if n.t != nil {
		return n.t.name
	}
	parts := make([]string, len(n.kids))
	for i, k := range n.kids {
		parts[i] = k.String()
	}
	return "(" + strings.Join(parts, " "+n.op+" ") + ")"
}

var stateChange = map[string]string{
	StateAlarm:        "outside their threshold.",
	StateOK:           "inside their threshold.",
	StateInsufficient: "state evaluated to unknown.",
}

// evalComposite is Aodh's CompositeEvaluator: the alarm expression, then
// the ok expression, evaluated lazily; when neither holds, every rule is
// evaluated and the trending rules take a state (the trend when the alarm
// is in insufficient data, otherwise the opposite of the trend) before
// both expressions are tried again; still neither means insufficient
// data.
func (e *Evaluator) evalComposite(ctx context.Context, in Input, cur string, r *CompositeRule, now time.Time) (Outcome, error) {
	c := &compositeRun{e: e, ctx: ctx, project: in.ProjectID, now: now}
	root := c.build(r)
	sufficient := func() (string, bool) {
		for _, t := range c.targets {
			if t.trending == "" {
				continue
			}
			switch {
			case cur == StateInsufficient:
				t.state = t.trending
			case t.trending == StateAlarm:
				t.state = StateOK
			default:
				t.state = StateAlarm
			}
		}
		if c.truth(root, StateAlarm) {
			return StateAlarm, true
		}
		if c.err == nil && c.truth(root, StateOK) {
			return StateOK, true
		}
		return "", false
	}
	state, ok := sufficient()
	if !ok && c.err == nil {
		for _, t := range c.targets {
			c.eval(t)
		}
		state, ok = sufficient()
	}
	if c.err != nil {
		return Outcome{State: cur, Skipped: true}, fmt.Errorf("evaluate composite rule: %w", c.err)
	}
	if !ok {
		state = StateInsufficient
	}
	changed := state != cur
	if !ok && !changed {
		return Outcome{State: cur}, nil
	}
	reason, data := c.reason(cur, state, root)
	return Outcome{State: state, Reason: reason, ReasonData: data, Changed: changed, Notify: changed || (ok && in.RepeatActions)}, nil
}

func (c *compositeRun) reason(cur, state string, root *node) (string, map[string]any) {
	causes := map[string]any{}
	var names []string
	for _, t := range c.targets {
		if t.state == state {
			var m map[string]any
			if b, err := t.rule.MarshalJSON(); err == nil && json.Unmarshal(b, &m) == nil {
				m["type"] = t.rule.Type()
			}
			causes[t.name] = m
			names = append(names, t.name)
		}
	}
	sort.Strings(names)
	form := root.String()
	verb := "transition to"
	if cur == state {
		verb = "remaining as"
	}
	reason := fmt.Sprintf("Composite rule alarm with composition form: %s %s %s, due to rules: %s %s",
		form, verb, state, strings.Join(names, ", "), stateChange[state])
	return reason, map[string]any{"type": "composite", "composition_form": form, "causative_rules": causes}
}

package rule

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Check validates what Parse cannot see alone, against the store the rule
// will read, for an alarm of projectID: a gnocchi rule's granularity must
// be an archive granularity of its meter's policy, and a resource a rule
// names (resource_id, a metric's resource, a query's resource_id or
// project_id) must not belong to another project. A resource the store
// does not know yet is accepted. Errors are *FieldError, as Parse's; a
// store failure is returned wrapped.
func Check(ctx context.Context, src Source, projectID string, r Rule) error {
	return check(ctx, src, projectID, r, r.Type()+"_rule")
}

func check(ctx context.Context, src Source, project string, r Rule, prefix string) error {
	switch t := r.(type) {
	case *CompositeRule:
		return checkComposite(ctx, src, project, t, prefix)
	case *ThresholdRule:
		for i, q := range t.Query {
			f := fmt.Sprintf("%s.query[%d].value", prefix, i)
			switch q.Field {
			case "project_id":
				if project != "" && q.Value != project {
					return fieldErr(f, "not authorized to access project %s", q.Value)
				}
			case "resource_id":
				if err := checkResource(ctx, src, project, q.Value, f); err != nil {
					return err
				}
			}
		}
	case *GnocchiResourcesRule:
		if err := checkGranularity(src, t.Metric, t.Granularity, prefix); err != nil {
			return err
		}
		return checkResource(ctx, src, project, t.ResourceID, prefix+".resource_id")
	case *GnocchiByMetricsRule:
		for i, ref := range t.targets {
			if err := checkGranularity(src, ref.Meter, t.Granularity, prefix); err != nil {
				return err
			}
			if err := checkResource(ctx, src, project, ref.ResourceID, fmt.Sprintf("%s.metrics[%d]", prefix, i)); err != nil {
				return err
			}
		}
	case *GnocchiByResourcesRule:
		return checkGranularity(src, t.Metric, t.Granularity, prefix)
	}
	return nil
}

func checkComposite(ctx context.Context, src Source, project string, r *CompositeRule, prefix string) error {
	if r.Leaf != nil {
		return check(ctx, src, project, r.Leaf, prefix)
	}
	for i, k := range r.Children {
		if err := checkComposite(ctx, src, project, k, fmt.Sprintf("%s.%s[%d]", prefix, r.Op, i)); err != nil {
			return err
		}
	}
	return nil
}

func checkGranularity(src Source, meter string, gran int, prefix string) error {
	gs := src.Granularities(meter)
	if slices.Contains(gs, time.Duration(gran)*time.Second) {
		return nil
	}
	have := make([]string, len(gs))
	for i, g := range gs {
		have[i] = fmt.Sprint(g.Seconds())
	}
	return fieldErr(prefix+".granularity", "granularity %d does not match an archive of the policy of metric %s (granularities: %s)", gran, meter, strings.Join(have, ", "))
}

func checkResource(ctx context.Context, src Source, project, id, field string) error {
	if project == "" {
		return nil
	}
	owner, found, err := src.ResourceProject(ctx, id)
	if err != nil {
		return fmt.Errorf("check %s: %w", field, err)
	}
	if found && owner != project {
		return fieldErr(field, "resource %s is not in the alarm's project", id)
	}
	return nil
}

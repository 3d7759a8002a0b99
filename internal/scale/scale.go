package scale

import (
	"fmt"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"github.com/altimeter/altimeter/sdk/sample"
)

// env is what an expression sees. One value per Scale is reused for every
// sample, so evaluating allocates nothing for the environment.
type env struct {
	Volume     float64           `expr:"volume"`
	Name       string            `expr:"name"`
	Unit       string            `expr:"unit"`
	ResourceID string            `expr:"resource_id"`
	ProjectID  string            `expr:"project_id"`
	UserID     string            `expr:"user_id"`
	Metadata   map[string]string `expr:"metadata"`
}

// Scale is a compiled expression giving a sample's new volume. Not safe for
// concurrent use: it reuses one VM and environment.
type Scale struct {
	prog *vm.Program
	vm   vm.VM
	env  env
}

// Compile checks src against the sample environment (volume, name, unit,
// resource_id, project_id, user_id, metadata) and requires a number.
func Compile(src string) (*Scale, error) {
	p, err := expr.Compile(src, expr.Env(env{}), expr.AsFloat64())
	if err != nil {
		return nil, err
	}
	return &Scale{prog: p}, nil
}

// Eval computes the new volume of s, as s is (old name and unit).
func (c *Scale) Eval(s *sample.Sample) (float64, error) {
	c.env = env{
		Volume: s.Volume, Name: s.Name, Unit: s.Unit, ResourceID: s.ResourceID,
		ProjectID: s.ProjectID, UserID: s.UserID, Metadata: s.Metadata,
	}
	v, err := c.vm.Run(c.prog, &c.env)
	c.env.Metadata = nil // do not pin the batch
	if err != nil {
		return 0, err
	}
	f, ok := v.(float64)
	if !ok { // AsFloat64 makes this unreachable; keep callers safe anyway
		return 0, fmt.Errorf("scale gave %T, not a number", v)
	}
	return f, nil
}

// Command crashy is a publisher plugin that starts, configures, then always
// exits shortly after, writing a reason to stderr: the e2e tests' plugin
// that never stays up.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/altimeter/altimeter/sdk/publisher"
	"github.com/altimeter/altimeter/sdk/sample"
)

type config struct {
	After string `hcl:"after,optional"`
}

type crashy struct{}

func (crashy) Publish(context.Context, *sample.Batch) error { return nil }

func main() {
	publisher.Serve(publisher.Spec[config]{
		Name:     "crashy",
		Version:  "0.0.1",
		Defaults: config{After: "200ms"},
		New: func(c config, log hclog.Logger) (publisher.Publisher, error) {
			d, err := time.ParseDuration(c.After)
			if err != nil {
				return nil, err
			}
			go func() {
				time.Sleep(d)
				log.Error("disk on fire, giving up")
				fmt.Fprintln(os.Stderr, "crashy: disk on fire")
				os.Exit(7)
			}()
			return crashy{}, nil
		},
	})
}

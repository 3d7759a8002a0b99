// Command altimeter is the Altimeter agent and its CLI in one binary.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

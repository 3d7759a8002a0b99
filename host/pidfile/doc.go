// Package pidfile owns the agent's pid file, data_dir/altimeter.pid: the
// running agent holds an exclusive flock on it for its whole life, so a
// second agent on the same data_dir refuses to start, and `altimeter reload`
// and `altimeter stop` signal exactly that agent. A pid file left by an agent
// that died (no lock held) is stale and replaced. It imports nothing of the
// host.
package pidfile

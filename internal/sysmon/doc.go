// Package sysmon keeps the Go runtime's system monitor (sysmon) of the
// agent and its plugins from parking while the process is idle.
//
// A parked sysmon, woken when the process has work again, restarts its
// polling at 20µs and backs off (doubling up to 10ms) only after 1ms of
// polls with nothing to do. A process of the plugin pipeline goes idle
// between batches and wakes once or more per batch, so its sysmon woke its
// thread 50 times and more per batch: in the pipeline benchmark (four
// processes, bench/pipeline) more than half of all context switches and
// 13-19 % of the CPU. GODEBUG=schedtrace=2147483647 (Setting) keeps sysmon from parking
// (the runtime does not park it while a scheduler trace is due), so its
// interval backs off to 10ms and stays there; the trace itself comes every
// 2^31-1 ms, 24.8 days of system uptime (one line on stderr, the first at
// start on a system up longer than that). The price is 100 sysmon wake-ups a
// second in an idle process.
//
// The runtime reads GODEBUG once, at start: the plugin manager gives it to
// the plugins it starts, and the agent command re-executes itself with it
// (Reexec). A schedtrace in the operator's GODEBUG wins: schedtrace=0 turns
// this off.
package sysmon

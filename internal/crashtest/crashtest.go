package crashtest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// env names the writer a child process runs and its directory,
// "name=dir".
const env = "ALTIMETER_CRASHTEST_WRITER"

// A Writer writes batch after batch into dir until the process is killed,
// calling ack(k) once batch k is acknowledged (durable); it returns only
// on an error.
type Writer func(dir string, ack func(k int)) error

// Main runs the tests, or, in a child process KillAfter started, the
// writer it names instead; call it from TestMain.
func Main(m *testing.M, writers map[string]Writer) {
	spec := os.Getenv(env)
	if spec == "" {
		os.Exit(m.Run())
	}
	name, dir, _ := strings.Cut(spec, "=")
	w, ok := writers[name]
	if !ok {
		fmt.Println("error no writer", name)
		os.Exit(2)
	}
	err := w(dir, func(k int) { fmt.Println("acked", k) })
	fmt.Println("error", err)
	os.Exit(2)
}

// KillAfter starts this test binary as writer name over dir, kills it
// with SIGKILL once it has acknowledged batch n, and returns n, the last
// batch the child acknowledged before the kill (a floor of what the store
// must keep). It fails t if the child reports an error, ends early, or
// takes longer than a minute.
func KillAfter(t testing.TB, name, dir string, n int) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.count=1")
	cmd.Env = append(os.Environ(), env+"="+name+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL); _ = cmd.Wait() })
	acked := -1
	sc := bufio.NewScanner(out)
	deadline := time.Now().Add(time.Minute)
	for acked < n && sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "error") {
			t.Fatalf("writer %s: %s", name, line)
		}
		if v, ok := strings.CutPrefix(line, "acked "); ok {
			if acked, err = strconv.Atoi(v); err != nil {
				t.Fatal(err)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("writer %s too slow: batch %d acknowledged after a minute", name, acked)
		}
	}
	if acked != n {
		t.Fatalf("writer %s ended after batch %d, before batch %d", name, acked, n)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	return acked
}

// The Go peer of `cargo xtask bench --peers`: os.Process (Go 1.23+, which
// holds a pidfd for a process it started or found) against Go's own raw
// system calls, measured interleaved in this one process. Prints one JSON
// line per row: {"group","op","subject","metric","a":[ns...],"b":[ns...]},
// "a" the os.Process figure, "b" its floor, each sample the mean cost of one
// call over a ~2 ms batch.
//
// Usage: pidkit-go-peer BUDGET_SECONDS
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"time"
)

type row struct {
	Group   string    `json:"group"`
	Op      string    `json:"op"`
	Subject string    `json:"subject"`
	Metric  string    `json:"metric"`
	A       []float64 `json:"a"`
	B       []float64 `json:"b"`
}

// calibrate returns how many calls of f fill about 2 ms.
func calibrate(f func()) int {
	target := 2 * time.Millisecond
	for n := 1; ; n *= 4 {
		t := time.Now()
		for i := 0; i < n; i++ {
			f()
		}
		took := time.Since(t)
		if took >= target/4 || n >= 1<<24 {
			per := float64(took) / float64(n)
			k := int(float64(target) / per)
			if k < 1 {
				k = 1
			}
			return k
		}
	}
}

func perOp(n int, f func()) float64 {
	t := time.Now()
	for i := 0; i < n; i++ {
		f()
	}
	return float64(time.Since(t).Nanoseconds()) / float64(n)
}

// interleave samples a and b alternately (A B, then B A) until budget is
// spent, with at least 20 samples each.
func interleave(budget time.Duration, a, b func()) ([]float64, []float64) {
	na, nb := calibrate(a), calibrate(b)
	var va, vb []float64
	start := time.Now()
	for len(va) < 20 || time.Since(start) < budget {
		if len(va)%2 == 0 {
			va = append(va, perOp(na, a))
			vb = append(vb, perOp(nb, b))
		} else {
			vb = append(vb, perOp(nb, b))
			va = append(va, perOp(na, a))
		}
	}
	return va, vb
}

func must(err error, what string) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "go peer: %s: %v\n", what, err)
		os.Exit(1)
	}
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: pidkit-go-peer BUDGET_SECONDS")
		os.Exit(2)
	}
	secs, err := strconv.ParseFloat(os.Args[1], 64)
	must(err, "budget")
	budget := time.Duration(secs * float64(time.Second))

	sleep := "/bin/sleep"
	if _, err := os.Stat(sleep); err != nil {
		sleep = "/usr/bin/sleep"
	}
	devnull, err := os.Open(os.DevNull)
	must(err, "open /dev/null")
	p, err := os.StartProcess(sleep, []string{"sleep", "1000"}, &os.ProcAttr{
		Files: []*os.File{devnull, os.Stdout, os.Stderr},
	})
	must(err, "start sleep")
	defer func() {
		_ = p.Kill()
		_, _ = p.Wait()
	}()
	pid := p.Pid

	// The pidfd os.Process holds, duplicated, for the raw pidfd_send_signal
	// floor (Go has no public accessor; pidfd_open gives an equivalent one).
	r1, _, e := syscall.Syscall(434 /* pidfd_open */, uintptr(pid), 0, 0)
	if e != 0 {
		must(e, "pidfd_open")
	}
	pidfd := int(r1)
	defer syscall.Close(pidfd)

	subject := "Go " + runtime.Version() + " os.Process"
	rawKill := func() { must(syscall.Kill(pid, 0), "kill") }
	rawPidfd := func() {
		_, _, e := syscall.Syscall6(424 /* pidfd_send_signal */, uintptr(pidfd), 0, 0, 0, 0, 0)
		if e != 0 {
			must(e, "pidfd_send_signal")
		}
	}
	held := func() { must(p.Signal(syscall.Signal(0)), "Signal(0)") }
	found := func() {
		q, err := os.FindProcess(pid)
		must(err, "FindProcess")
		must(q.Signal(syscall.Signal(0)), "Signal(0)")
		must(q.Release(), "Release")
	}

	enc := json.NewEncoder(os.Stdout)
	emit := func(op, metric string, a, b []float64) {
		must(enc.Encode(row{"signal send", op, subject, metric, a, b}), "write")
	}
	a, b := interleave(budget, held, rawKill)
	emit("held_kill", "held Process.Signal(0) (StartProcess child) vs syscall.Kill(pid, 0) [Go]", a, b)
	a, b = interleave(budget, held, rawPidfd)
	emit("held_pidfd", "held Process.Signal(0) (StartProcess child) vs raw pidfd_send_signal(fd, 0) [Go]", a, b)
	a, b = interleave(budget, found, rawKill)
	emit("from_pid_kill", "FindProcess(pid)+Signal(0)+Release vs syscall.Kill(pid, 0) [Go]", a, b)
}

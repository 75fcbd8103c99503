package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The targets run as their own processes, so their RSS and CPU time are
// theirs alone: edgews is this very binary re-executed as
// `edgews serve --config <generated file>`, the reference server this
// binary as `edgews bench reference-server`.

const (
	targetEdgews    = "edgews"
	targetReference = "reference"
)

var (
	// ErrNotReady is a target that did not answer /readyz in time.
	ErrNotReady = errors.New("bench: target did not become ready")
	// ErrExited is a target process that stopped while it was needed.
	ErrExited = errors.New("bench: target process exited")
)

// Command is how to start a program: the executable, the arguments that
// come before the ones the bench adds, and extra environment variables.
type Command struct {
	Path string
	Args []string
	Env  []string
}

// process is one started target.
type process struct {
	name   string
	cmd    *exec.Cmd
	out    *tailBuffer
	listen string // WebSocket host:port
	admin  string // admin API host:port
	done   chan struct{}
	err    error // set before done closes
}

// tailBuffer keeps the last bytes a child wrote to stderr and stdout, for
// error messages, and counts the occurrences of a marker in everything
// written.
type tailBuffer struct {
	mu     sync.Mutex
	buf    []byte
	max    int
	marker []byte
	seen   int
	carry  []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.marker) > 0 {
		data := append(t.carry, p...)
		t.seen += bytes.Count(data, t.marker)
		keep := min(len(data), len(t.marker)-1)
		t.carry = append(t.carry[:0:0], data[len(data)-keep:]...)
	}
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// count is how often the marker has been written.
func (t *tailBuffer) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.seen
}

// reloadedMarker is what edgews logs (at info) after a successful reload.
const reloadedMarker = "configuration reloaded"

// startProcess starts c with extra args and waits until GET /readyz on
// admin answers 200.
func startProcess(ctx context.Context, name string, c Command, args []string, listen, admin string, log io.Writer) (*process, error) {
	p := &process{name: name, out: &tailBuffer{max: 256 << 10, marker: []byte(reloadedMarker)}, listen: listen, admin: admin, done: make(chan struct{})}
	p.cmd = exec.Command(c.Path, append(append([]string{}, c.Args...), args...)...)
	p.cmd.Env = append(childEnv(), c.Env...)
	var out io.Writer = p.out
	if log != nil {
		fmt.Fprintf(log, "=== %s %s: %s %s\n", time.Now().Format(time.RFC3339), name, c.Path, strings.Join(p.cmd.Args[1:], " "))
		out = io.MultiWriter(p.out, log)
	}
	p.cmd.Stdout, p.cmd.Stderr = out, out
	p.cmd.SysProcAttr = childAttr()
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: starting %s (%s): %w", name, c.Path, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	if err := p.waitReady(ctx, 60*time.Second); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// childEnv is this process's environment without EDGEWS_* variables:
// edgews reads those as flags, and they would override the generated
// config (an EDGEWS_LISTEN in the shell must not move the target).
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "EDGEWS_") {
			env = append(env, kv)
		}
	}
	return env
}

func (p *process) waitReady(ctx context.Context, limit time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		resp, err := client.Get("http://" + p.admin + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("%w: %s: %v\n%s", ErrExited, p.name, p.err, p.out)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
	}
	return fmt.Errorf("%w: %s after %s\n%s", ErrNotReady, p.name, limit, p.out)
}

// alive reports an error when the process has exited.
func (p *process) alive() error {
	select {
	case <-p.done:
		return fmt.Errorf("%w: %s: %v\n%s", ErrExited, p.name, p.err, p.out)
	default:
		return nil
	}
}

// stop sends SIGTERM, waits up to 5 s, then kills.
func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *process) pid() int { return p.cmd.Process.Pid }

// procStatus is what /proc/PID/status says about memory and threads.
type procStatus struct {
	RSS     int64 // VmRSS, bytes
	Threads int
}

func readProcStatus(pid int) (procStatus, error) {
	var st procStatus
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return st, fmt.Errorf("bench: RSS needs /proc (Linux): %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(fields[0], 10, 64)
		switch k {
		case "VmRSS":
			st.RSS = n << 10 // kB
		case "Threads":
			st.Threads = int(n)
		}
	}
	return st, sc.Err()
}

// settledStatus samples /proc/PID/status n times, every, and returns the
// last sample: the Go runtime frees and returns memory in the background,
// and there is no endpoint to force a GC in the target.
func settledStatus(ctx context.Context, pid, n int, every time.Duration) (procStatus, error) {
	var st procStatus
	var err error
	for i := range n {
		if i > 0 {
			select {
			case <-ctx.Done():
				return st, ctx.Err()
			case <-time.After(every):
			}
		}
		if st, err = readProcStatus(pid); err != nil {
			return st, err
		}
	}
	return st, nil
}

// freeAddr returns a free TCP port on ip (and, with udp, one free for UDP
// as well: gossip binds both).
func freeAddr(ip string, udp bool) (string, error) {
	for range 50 {
		l, err := net.Listen("tcp4", ip+":0")
		if err != nil {
			return "", fmt.Errorf("bench: no free port on %s: %w", ip, err)
		}
		a := l.Addr().String()
		if !udp {
			l.Close()
			return a, nil
		}
		u, err := net.ListenPacket("udp4", a)
		l.Close()
		if err == nil {
			u.Close()
			return a, nil
		}
	}
	return "", fmt.Errorf("bench: no free TCP+UDP port on %s", ip)
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's CPU times: 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// procCPU is the user plus system CPU time process pid has used.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("bench: CPU time needs /proc (Linux): %w", err)
	}
	// The command name (field 2) may hold spaces; the fields after it
	// start at the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("bench: unexpected /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("bench: unexpected /proc/%d/stat", pid)
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// cpuMeter measures the CPU time a server process and the bench process
// spend between start and stop: on a shared machine, CPU time per message
// is steadier than messages per second.
type cpuMeter struct {
	pid            int
	server0, self0 time.Duration
	server, self   time.Duration
}

func (m *cpuMeter) start(pid int) {
	m.pid = pid
	m.server0, _ = procCPU(pid)
	m.self0, _ = procCPU(os.Getpid())
}

func (m *cpuMeter) stop() {
	s, _ := procCPU(m.pid)
	c, _ := procCPU(os.Getpid())
	m.server += s - m.server0
	m.self += c - m.self0
}

// perOp is CPU µs per operation.
func perOp(cpu time.Duration, n int64) float64 {
	if n <= 0 {
		return 0
	}
	return us(cpu / time.Duration(n))
}

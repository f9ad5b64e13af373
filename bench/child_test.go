package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/deprov/deprov/engine"
	"github.com/deprov/deprov/store/sqlite"
)

// Children are this test binary started again with childEnv naming what to
// do and childDB the database; they print one childPrefix line of JSON.
const (
	childEnv    = "DEPROV_BENCH_CHILD"
	childDB     = "DEPROV_BENCH_DB"
	childProf   = "DEPROV_BENCH_CPUPROFILE"
	childPrefix = "CHILD "
)

// childResult is what a child measured.
type childResult struct {
	Seconds float64 `json:"seconds"`
	Rows    int     `json:"rows"`
	Matched int     `json:"matched"`
	Planned int     `json:"planned"`
	Skipped int     `json:"skipped"`
	// HWMKiB is the child's own VmHWM (peak resident set) at the end.
	HWMKiB int64 `json:"hwmKiB"`
}

func runChild(mode string) int {
	if p := os.Getenv(childProf); p != "" {
		f, err := os.Create(p)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer f.Close()
		_ = pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	var res childResult
	var err error
	switch mode {
	case "scan":
		res, err = scanChild(os.Getenv(childDB))
	case "dryrun":
		res, err = dryRunChild(os.Getenv(childDB))
	default:
		err = fmt.Errorf("unknown child mode %q", mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	res.HWMKiB = vmHWM()
	b, _ := json.Marshal(res)
	fmt.Println(childPrefix + string(b))
	return 0
}

// scanChild reads every column of every identity row through the store's
// own driver and connection settings, and nothing else: the floor a dry run
// is compared with.
func scanChild(path string) (childResult, error) {
	st, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		return childResult{}, err
	}
	defer st.Close()
	start := time.Now()
	rows, err := st.DB().QueryContext(context.Background(), `SELECT key, source_id, external_id, user_name, email,
		display_name, status, end_date, department, manager, attributes, search, hash, created_at, updated_at,
		user_name_fold, status_fold FROM identities`)
	if err != nil {
		return childResult{}, err
	}
	defer rows.Close()
	var c [17]string
	dst := make([]any, len(c))
	for i := range c {
		dst[i] = &c[i]
	}
	n := 0
	for rows.Next() {
		if err := rows.Scan(dst...); err != nil {
			return childResult{}, err
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return childResult{}, err
	}
	return childResult{Seconds: time.Since(start).Seconds(), Rows: n}, nil
}

// dryRunChild dry-runs the rule over the whole database.
func dryRunChild(path string) (childResult, error) {
	st, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		return childResult{}, err
	}
	defer st.Close()
	e, err := engine.New(engine.Options{Store: st, Now: func() time.Time { return Now }, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return childResult{}, err
	}
	defer e.Close()
	start := time.Now()
	run, err := e.Run(context.Background(), "leavers", engine.RunOptions{DryRun: true, Actor: "bench"})
	if err != nil {
		return childResult{}, err
	}
	return childResult{Seconds: time.Since(start).Seconds(), Rows: run.Counts.Evaluated, Matched: run.Counts.Matched,
		Planned: run.Counts.Planned, Skipped: run.Counts.Skipped}, nil
}

// startChild runs a child to its end and returns what it measured.
func startChild(mode, db, cpuprofile string) (childResult, error) {
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+mode, childDB+"="+db)
	if cpuprofile != "" {
		cmd.Env = append(cmd.Env, childProf+"="+cpuprofile)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return childResult{}, fmt.Errorf("%s child: %v\n%s", mode, err, stderr.String())
	}
	var res childResult
	sc := bufio.NewScanner(&stdout)
	found := false
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), childPrefix); ok {
			if err := json.Unmarshal([]byte(line), &res); err != nil {
				return res, fmt.Errorf("%s child: %v", mode, err)
			}
			found = true
		}
	}
	if !found {
		return res, fmt.Errorf("%s child printed no result:\n%s%s", mode, stdout.String(), stderr.String())
	}
	return res, nil
}

// vmHWM reads this process's peak resident set from /proc, 0 when unknown.
func vmHWM() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

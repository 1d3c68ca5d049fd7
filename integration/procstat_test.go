package integration

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// procUsage reads a process's CPU time and resident memory from /proc.
func procUsage(pid int) (cpu time.Duration, rssKB int, ok bool) {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, 0, false
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	s := string(stat)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(fields) < 13 {
		return 0, 0, false
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	cpu = time.Duration(utime+stime) * time.Second / 100 // USER_HZ is 100 on Linux
	status, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return cpu, 0, true
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, found := strings.CutPrefix(line, "VmRSS:"); found {
			rssKB, _ = strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	return cpu, rssKB, true
}

// childWithArg finds a child of parent whose command line has arg.
func childWithArg(parent int, arg string) int {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(stat)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		if len(fields) < 2 || fields[1] != strconv.Itoa(parent) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if strings.Contains(string(cmdline), arg) {
			return pid
		}
	}
	return 0
}

// usageMeter measures a process's CPU share and peak memory over an interval.
type usageMeter struct {
	pid       int
	startCPU  time.Duration
	startTime time.Time
	peakRSS   int
}

func startMeter(pid int) *usageMeter {
	cpu, rss, _ := procUsage(pid)
	return &usageMeter{pid: pid, startCPU: cpu, startTime: time.Now(), peakRSS: rss}
}

func (m *usageMeter) sample() {
	if _, rss, ok := procUsage(m.pid); ok && rss > m.peakRSS {
		m.peakRSS = rss
	}
}

// result returns the CPU share of one core (1.0 = a full core) and peak RSS in MB.
func (m *usageMeter) result() (float64, float64) {
	m.sample()
	cpu, _, _ := procUsage(m.pid)
	return float64(cpu-m.startCPU) / float64(time.Since(m.startTime)), float64(m.peakRSS) / 1024
}

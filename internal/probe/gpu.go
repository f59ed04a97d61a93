package probe

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// GPUSpec is the `gpu` probe's settings. The probe runs nvidia-smi (argv, no
// shell) with a fixed --query-gpu list and parses its CSV answer.
type GPUSpec struct {
	Command []string      `yaml:"command" json:"command" doc:"nvidia-smi program and any leading arguments (argv; no shell); the query arguments are appended (default [nvidia-smi])"`
	Timeout time.Duration `yaml:"timeout" json:"timeout,omitempty" doc:"kill nvidia-smi after this long (default: the checkpoint's timeout)"`
}

func (s *GPUSpec) defaults() { s.Command = []string{"nvidia-smi"} }

// Validate implements Spec.
func (s *GPUSpec) Validate() error {
	if len(s.Command) == 0 || s.Command[0] == "" {
		return Fieldf("command", "is required: the nvidia-smi program, as a list")
	}
	for i, a := range s.Command {
		if strings.IndexByte(a, 0) >= 0 {
			return Fieldf("command", "argument %d holds a NUL byte", i)
		}
	}
	if s.Timeout < 0 {
		return Fieldf("timeout", "must not be negative")
	}
	return nil
}

// gpuQueryFields is the --query-gpu list, in the order parseNvidiaSMI reads.
var gpuQueryFields = []string{
	"index", "uuid", "name",
	"utilization.gpu", "utilization.memory",
	"memory.used", "memory.total",
	"temperature.gpu",
	"power.draw", "power.limit",
	"ecc.errors.uncorrected.volatile.total", "ecc.errors.corrected.volatile.total",
	"driver_version",
}

func gpuQueryArgs() []string {
	return []string{"--query-gpu=" + strings.Join(gpuQueryFields, ","), "--format=csv,noheader,nounits"}
}

// GPU is one GPU as nvidia-smi reported it. A number nvidia-smi could not
// give ("[N/A]", "[Not Supported]", …) is -1.
type GPU struct {
	Index             int     `json:"index"`
	UUID              string  `json:"uuid"`
	Name              string  `json:"name"`
	Utilization       int     `json:"utilization"`        // percent of time a kernel ran
	MemoryUtilization int     `json:"memory_utilization"` // percent of time memory was read or written
	MemoryUsedMiB     int64   `json:"memory_used_mib"`
	MemoryTotalMiB    int64   `json:"memory_total_mib"`
	MemoryRatio       float64 `json:"memory_ratio"` // used / total, 0..1
	TemperatureC      int     `json:"temperature_c"`
	PowerDrawW        float64 `json:"power_draw_w"`
	PowerLimitW       float64 `json:"power_limit_w"`
	ECCUncorrected    int64   `json:"ecc_uncorrected"` // volatile (since the driver loaded)
	ECCCorrected      int64   `json:"ecc_corrected"`
	DriverVersion     string  `json:"driver_version"`
}

// GPUObservation is what a `gpu` probe saw. Aggregates are over the GPUs
// that reported the value; -1 when none did (or there are no GPUs).
type GPUObservation struct {
	GPUs                []GPU         `json:"gpus"`
	Count               int           `json:"count"`
	MaxUtilization      int           `json:"max_utilization"`
	MaxTemperatureC     int           `json:"max_temperature_c"`
	MaxMemoryRatio      float64       `json:"max_memory_ratio"`
	ECCUncorrectedTotal int64         `json:"ecc_uncorrected_total"`
	DriverVersion       string        `json:"driver_version"`
	Duration            time.Duration `json:"duration"` // how long nvidia-smi took
}

// gpuMaxOutput bounds what is read from nvidia-smi: one line per GPU is
// about 150 bytes.
const gpuMaxOutput = 1 << 20

func probeGPU(ctx context.Context, env Env, s *GPUSpec) (GPUObservation, error) {
	obs := GPUObservation{GPUs: []GPU{}}
	name := s.Command[0]
	argv := append(append([]string(nil), s.Command...), gpuQueryArgs()...)
	out, err := probeExec(ctx, env, &ExecSpec{Command: argv, Timeout: s.Timeout, MaxOutputBytes: gpuMaxOutput})
	obs.Duration = out.Duration
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			return obs, fmt.Errorf("%s not found: no NVIDIA driver on this host", name)
		}
		return obs, fmt.Errorf("gpu: %w", err)
	}
	if out.TimedOut {
		return obs, fmt.Errorf("gpu: %s did not answer within %s (a hung nvidia-smi often means a GPU or driver fault)", name, s.Timeout)
	}
	text := out.Stdout + "\n" + out.Stderr
	switch {
	case strings.Contains(text, "couldn't communicate with the NVIDIA driver"):
		return obs, fmt.Errorf("gpu: %s cannot talk to the NVIDIA driver (exit %d): %s", name, out.ExitCode, gpuFirstLine(text))
	case strings.Contains(text, "No devices were found"):
		// A driver without a GPU: an observation (count 0), not an error.
		gpuAggregate(&obs)
		return obs, nil
	case out.ExitCode != 0:
		return obs, fmt.Errorf("gpu: %s exited %d: %s", name, out.ExitCode, gpuFirstLine(text))
	}
	if out.StdoutTruncated {
		return obs, fmt.Errorf("gpu: %s wrote more than %d bytes", name, gpuMaxOutput)
	}
	gpus, err := parseNvidiaSMI(out.Stdout)
	if err != nil {
		return obs, fmt.Errorf("gpu: %s output: %w", name, err)
	}
	obs.GPUs = gpus
	gpuAggregate(&obs)
	env.logf("%s: %d GPU(s), driver %s", name, obs.Count, obs.DriverVersion)
	return obs, nil
}

func gpuAggregate(obs *GPUObservation) {
	obs.Count = len(obs.GPUs)
	obs.MaxUtilization, obs.MaxTemperatureC, obs.MaxMemoryRatio, obs.ECCUncorrectedTotal = -1, -1, -1, -1
	for _, g := range obs.GPUs {
		obs.MaxUtilization = max(obs.MaxUtilization, g.Utilization)
		obs.MaxTemperatureC = max(obs.MaxTemperatureC, g.TemperatureC)
		obs.MaxMemoryRatio = max(obs.MaxMemoryRatio, g.MemoryRatio)
		if g.ECCUncorrected >= 0 {
			obs.ECCUncorrectedTotal = max(obs.ECCUncorrectedTotal, 0) + g.ECCUncorrected
		}
		if obs.DriverVersion == "" {
			obs.DriverVersion = g.DriverVersion
		}
	}
}

// gpuFirstLine is the first non-blank line of s, trimmed and bounded, for an
// error message.
func gpuFirstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			if len(l) > 200 {
				l = l[:200] + "…"
			}
			return l
		}
	}
	return "(no output)"
}

// parseNvidiaSMI parses the answer to gpuQueryArgs: one CSV line per GPU,
// fields in gpuQueryFields order, no header, no units. Values nvidia-smi
// cannot give ("[N/A]", "[Not Supported]", "[Unknown Error]", …) become -1;
// units left in by mistake ("37 %", "10240 MiB", "118.45 W") are tolerated.
func parseNvidiaSMI(out string) ([]GPU, error) {
	r := csv.NewReader(strings.NewReader(out))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	r.LazyQuotes = true
	r.ReuseRecord = true
	gpus := []GPU{}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		line, _ := r.FieldPos(0)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if strings.TrimSpace(rec[0]) == "index" {
			continue // a header, should --format lose "noheader"
		}
		if len(rec) != len(gpuQueryFields) {
			return nil, fmt.Errorf("line %d: %d fields, want %d", line, len(rec), len(gpuQueryFields))
		}
		g, err := parseGPURecord(rec)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		gpus = append(gpus, g)
	}
	return gpus, nil
}

func parseGPURecord(rec []string) (GPU, error) {
	var (
		g   GPU
		err error
	)
	num := func(i int) float64 {
		if err != nil {
			return -1
		}
		var v float64
		v, err = gpuNumber(rec[i])
		if err != nil {
			err = fmt.Errorf("%s: %w", gpuQueryFields[i], err)
		}
		return v
	}
	g.Index = int(num(0))
	g.UUID = gpuText(rec[1])
	g.Name = gpuText(rec[2])
	g.Utilization = int(num(3))
	g.MemoryUtilization = int(num(4))
	g.MemoryUsedMiB = int64(num(5))
	g.MemoryTotalMiB = int64(num(6))
	g.TemperatureC = int(num(7))
	g.PowerDrawW = num(8)
	g.PowerLimitW = num(9)
	g.ECCUncorrected = int64(num(10))
	g.ECCCorrected = int64(num(11))
	g.DriverVersion = gpuText(rec[12])
	if err != nil {
		return GPU{}, err
	}
	g.MemoryRatio = -1
	if g.MemoryUsedMiB >= 0 && g.MemoryTotalMiB > 0 {
		g.MemoryRatio = float64(g.MemoryUsedMiB) / float64(g.MemoryTotalMiB)
	}
	return g, nil
}

// gpuUnknown reports whether v is one of nvidia-smi's "no value" markers:
// "[N/A]", "N/A", "[Not Supported]", "[Unknown Error]",
// "[Insufficient Permissions]", "[GPU requires reset]", …
func gpuUnknown(v string) bool {
	return v == "" || strings.EqualFold(v, "N/A") || (strings.HasPrefix(v, "[") && strings.HasSuffix(v, "]"))
}

func gpuText(v string) string {
	v = strings.TrimSpace(v)
	if gpuUnknown(v) {
		return ""
	}
	return v
}

// gpuNumber parses a numeric field; a "no value" marker is -1.
func gpuNumber(v string) (float64, error) {
	v = strings.TrimSpace(v)
	if gpuUnknown(v) {
		return -1, nil
	}
	for _, unit := range []string{"%", "MiB", "W", "C"} {
		if t, ok := strings.CutSuffix(v, unit); ok {
			v = strings.TrimSpace(t)
			break
		}
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e15 {
		return 0, fmt.Errorf("not a number: %q", gpuTruncate(v, 40))
	}
	return f, nil
}

func gpuTruncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

package probe

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func readGPUTestdata(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseNvidiaSMI(t *testing.T) {
	h100 := GPU{Index: 0, UUID: "GPU-5a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d", Name: "NVIDIA H100 80GB HBM3",
		Utilization: 37, MemoryUtilization: 12, MemoryUsedMiB: 10240, MemoryTotalMiB: 81559,
		MemoryRatio: 10240.0 / 81559, TemperatureC: 41, PowerDrawW: 118.45, PowerLimitW: 700,
		ECCUncorrected: 0, ECCCorrected: 0, DriverVersion: "550.54.15"}
	tests := []struct {
		name    string
		in      string
		count   int
		first   *GPU // the first GPU, compared in full
		check   func(t *testing.T, gpus []GPU)
		wantErr string // substring
	}{
		{name: "empty output", in: "", count: 0},
		{name: "blank lines only", in: "\n\n  \n", count: 0},
		{name: "one H100 line", in: "0, GPU-5a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d, NVIDIA H100 80GB HBM3, 37, 12, 10240, 81559, 41, 118.45, 700.00, 0, 0, 550.54.15\n",
			count: 1, first: &h100},
		{name: "no spaces, CRLF", in: "0,GPU-5a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d,NVIDIA H100 80GB HBM3,37,12,10240,81559,41,118.45,700.00,0,0,550.54.15\r\n",
			count: 1, first: &h100},
		{name: "units left in", in: "0, GPU-5a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d, NVIDIA H100 80GB HBM3, 37 %, 12 %, 10240 MiB, 81559 MiB, 41, 118.45 W, 700.00 W, 0, 0, 550.54.15\n",
			count: 1, first: &h100},
		{name: "header line skipped", in: "index, uuid, name, utilization.gpu [%], utilization.memory [%], memory.used [MiB], memory.total [MiB], temperature.gpu, power.draw [W], power.limit [W], ecc.errors.uncorrected.volatile.total, ecc.errors.corrected.volatile.total, driver_version\n" +
			"0, GPU-5a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d, NVIDIA H100 80GB HBM3, 37, 12, 10240, 81559, 41, 118.45, 700.00, 0, 0, 550.54.15\n",
			count: 1, first: &h100},
		{name: "eight H100s", in: readGPUTestdata(t, "gpu-h100x8.csv"), count: 8,
			check: func(t *testing.T, gpus []GPU) {
				if g := gpus[3]; g.Utilization != 100 || g.TemperatureC != 79 || g.ECCUncorrected != 2 || g.ECCCorrected != 17 || g.PowerDrawW != 701.33 {
					t.Errorf("gpu 3 = %+v", g)
				}
				for i, g := range gpus {
					if g.Index != i {
						t.Errorf("gpu %d has index %d", i, g.Index)
					}
				}
			}},
		{name: "N/A and Not Supported are -1", in: readGPUTestdata(t, "gpu-mixed-na.csv"), count: 3,
			check: func(t *testing.T, gpus []GPU) {
				g := gpus[1]
				if g.Name != "NVIDIA GeForce RTX 4090" || g.PowerDrawW != -1 || g.PowerLimitW != 450 || g.ECCUncorrected != -1 || g.ECCCorrected != -1 {
					t.Errorf("gpu 1 = %+v", g)
				}
				g = gpus[2]
				if g.Utilization != -1 || g.MemoryUtilization != -1 || g.TemperatureC != -1 || g.PowerDrawW != -1 || g.PowerLimitW != -1 {
					t.Errorf("gpu 2 = %+v", g)
				}
				if g.MemoryUsedMiB != 0 || g.MemoryRatio != 0 {
					t.Errorf("gpu 2 memory = %d MiB, ratio %v", g.MemoryUsedMiB, g.MemoryRatio)
				}
			}},
		{name: "unknown total memory: ratio -1", in: "0, GPU-x, Some GPU, 1, 1, 100, [N/A], 30, 10.00, 20.00, 0, 0, 1.0\n", count: 1,
			check: func(t *testing.T, gpus []GPU) {
				if gpus[0].MemoryRatio != -1 || gpus[0].MemoryTotalMiB != -1 {
					t.Errorf("memory = %+v", gpus[0])
				}
			}},
		{name: "too few fields", in: "0, GPU-x, Some GPU, 1, 1\n", wantErr: "line 1: 5 fields, want 13"},
		{name: "garbage number", in: "0, GPU-x, Some GPU, lots, 1, 100, 200, 30, 10.00, 20.00, 0, 0, 1.0\n", wantErr: `line 1: utilization.gpu: not a number: "lots"`},
		{name: "error on second line", in: "0, GPU-x, G, 1, 1, 100, 200, 30, 10.00, 20.00, 0, 0, 1.0\n1, GPU-y, G, 1, 1, 100, 200, NaN, 10.00, 20.00, 0, 0, 1.0\n",
			wantErr: "line 2: temperature.gpu: not a number"},
		{name: "driver failure text is not CSV", in: readGPUTestdata(t, "gpu-driver-failed.txt"), wantErr: "line 1: 1 fields, want 13"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gpus, err := parseNvidiaSMI(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(gpus) != tc.count {
				t.Fatalf("%d GPUs, want %d: %+v", len(gpus), tc.count, gpus)
			}
			if tc.first != nil && gpus[0] != *tc.first {
				t.Errorf("gpu 0 =\n %+v\nwant\n %+v", gpus[0], *tc.first)
			}
			if tc.check != nil {
				tc.check(t, gpus)
			}
		})
	}
}

func FuzzParseNvidiaSMI(f *testing.F) {
	for _, name := range []string{"gpu-h100x8.csv", "gpu-mixed-na.csv", "gpu-a100-ecc.csv", "gpu-driver-failed.txt", "gpu-no-devices.txt"} {
		f.Add(readGPUTestdata(f, name))
	}
	f.Add("0,a,b,1,2,3,4,5,6,7,8,9,x\n\"1\",\"a,b\",c,1e3,-0,1,[N/A],N/A,,0x10,1_0,+3,d")
	f.Fuzz(func(t *testing.T, in string) {
		gpus, err := parseNvidiaSMI(in)
		if err != nil {
			return
		}
		for _, g := range gpus {
			if math.IsNaN(g.MemoryRatio) || math.IsInf(g.MemoryRatio, 0) || math.IsNaN(g.PowerDrawW) || math.IsNaN(g.PowerLimitW) {
				t.Fatalf("non-finite value in %+v", g)
			}
			if g.MemoryRatio != -1 && (g.MemoryUsedMiB < 0 || g.MemoryTotalMiB <= 0) {
				t.Fatalf("ratio %v without used and total: %+v", g.MemoryRatio, g)
			}
		}
		obs := GPUObservation{GPUs: gpus}
		gpuAggregate(&obs)
		if obs.Count != len(gpus) {
			t.Fatalf("count %d, %d GPUs", obs.Count, len(gpus))
		}
	})
}

// fakeNvidiaSMI writes a stand-in nvidia-smi (no GPU here) that records its
// arguments, prints a testdata file and exits with code.
func fakeNvidiaSMI(t *testing.T, testdata string, code int, extra string) (path, argsFile string) {
	t.Helper()
	dir := t.TempDir()
	path = filepath.Join(dir, "nvidia-smi")
	argsFile = filepath.Join(dir, "args")
	out := ""
	if testdata != "" {
		abs, err := filepath.Abs(filepath.Join("testdata", testdata))
		if err != nil {
			t.Fatal(err)
		}
		out = "cat '" + abs + "'\n"
	}
	script := "#!/bin/sh\nfor a in \"$@\"; do echo \"$a\"; done > '" + argsFile + "'\n" + extra + out + "exit " + strconv.Itoa(code) + "\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path, argsFile
}

func gpuSpec(command ...string) *GPUSpec {
	s := &GPUSpec{}
	s.defaults()
	if len(command) > 0 {
		s.Command = command
	}
	return s
}

func TestGPUProbe(t *testing.T) {
	t.Run("eight GPUs", func(t *testing.T) {
		bin, argsFile := fakeNvidiaSMI(t, "gpu-h100x8.csv", 0, "")
		spec := gpuSpec(bin)
		if err := spec.Validate(); err != nil {
			t.Fatal(err)
		}
		obs, err := probeGPU(context.Background(), Env{Logf: t.Logf}, spec)
		if err != nil {
			t.Fatal(err)
		}
		args, err := os.ReadFile(argsFile)
		if err != nil {
			t.Fatal(err)
		}
		want := "--query-gpu=index,uuid,name,utilization.gpu,utilization.memory,memory.used,memory.total,temperature.gpu,power.draw,power.limit,ecc.errors.uncorrected.volatile.total,ecc.errors.corrected.volatile.total,driver_version\n--format=csv,noheader,nounits\n"
		if string(args) != want {
			t.Errorf("nvidia-smi args:\n%s\nwant\n%s", args, want)
		}
		if obs.Count != 8 || len(obs.GPUs) != 8 {
			t.Fatalf("count = %d, gpus = %d", obs.Count, len(obs.GPUs))
		}
		if obs.MaxUtilization != 100 || obs.MaxTemperatureC != 79 || obs.ECCUncorrectedTotal != 2 || obs.DriverVersion != "550.54.15" {
			t.Errorf("aggregates = util %d, temp %d, ecc %d, driver %q", obs.MaxUtilization, obs.MaxTemperatureC, obs.ECCUncorrectedTotal, obs.DriverVersion)
		}
		if want := 81001.0 / 81559; math.Abs(obs.MaxMemoryRatio-want) > 1e-12 {
			t.Errorf("max_memory_ratio = %v, want %v", obs.MaxMemoryRatio, want)
		}
		flat := Flatten(obs)
		if g, ok := flat["gpus"].([]any); !ok || len(g) != 8 {
			t.Fatalf("flattened gpus = %#v", flat["gpus"])
		}
		if g := flat["gpus"].([]any)[0].(map[string]any); g["name"] != "NVIDIA H100 80GB HBM3" || g["memory_total_mib"] != int64(81559) {
			t.Errorf("flattened gpu 0 = %v", g)
		}
	})
	t.Run("ECC unknown everywhere is -1, known values summed", func(t *testing.T) {
		bin, _ := fakeNvidiaSMI(t, "gpu-mixed-na.csv", 0, "")
		obs, err := probeGPU(context.Background(), Env{}, gpuSpec(bin))
		if err != nil {
			t.Fatal(err)
		}
		if obs.Count != 3 || obs.ECCUncorrectedTotal != 0 || obs.MaxTemperatureC != 47 || obs.MaxUtilization != 12 {
			t.Errorf("obs = %+v", obs)
		}
		bin, _ = fakeNvidiaSMI(t, "gpu-a100-ecc.csv", 0, "")
		obs, err = probeGPU(context.Background(), Env{}, gpuSpec(bin))
		if err != nil {
			t.Fatal(err)
		}
		if obs.Count != 2 || obs.ECCUncorrectedTotal != 14 || obs.MaxUtilization != 0 || obs.MaxMemoryRatio != 0 {
			t.Errorf("obs = %+v", obs)
		}
	})
	t.Run("no devices is count 0", func(t *testing.T) {
		bin, _ := fakeNvidiaSMI(t, "gpu-no-devices.txt", 6, "")
		obs, err := probeGPU(context.Background(), Env{}, gpuSpec(bin))
		if err != nil {
			t.Fatal(err)
		}
		if obs.Count != 0 || obs.MaxUtilization != -1 || obs.ECCUncorrectedTotal != -1 || obs.GPUs == nil {
			t.Errorf("obs = %+v", obs)
		}
	})

	errCases := []struct {
		name    string
		spec    func(t *testing.T) *GPUSpec
		wantErr string
	}{
		{name: "driver not loaded", wantErr: "cannot talk to the NVIDIA driver (exit 9): NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver",
			spec: func(t *testing.T) *GPUSpec {
				bin, _ := fakeNvidiaSMI(t, "gpu-driver-failed.txt", 9, "")
				return gpuSpec(bin)
			}},
		{name: "other failure", wantErr: "exited 2: Unable to determine the device handle for GPU0000:3B:00.0: Unknown Error",
			spec: func(t *testing.T) *GPUSpec {
				bin, _ := fakeNvidiaSMI(t, "", 2, "echo 'Unable to determine the device handle for GPU0000:3B:00.0: Unknown Error' >&2\n")
				return gpuSpec(bin)
			}},
		{name: "garbage output", wantErr: "output: line 1: 3 fields, want 13",
			spec: func(t *testing.T) *GPUSpec {
				bin, _ := fakeNvidiaSMI(t, "", 0, "echo 'a, b, c'\n")
				return gpuSpec(bin)
			}},
		{name: "hung nvidia-smi", wantErr: "did not answer within 300ms",
			spec: func(t *testing.T) *GPUSpec {
				bin, _ := fakeNvidiaSMI(t, "", 0, "sleep 30\n")
				s := gpuSpec(bin)
				s.Timeout = 300 * time.Millisecond
				return s
			}},
		{name: "binary path missing", wantErr: "/nonexistent/nvidia-smi not found: no NVIDIA driver on this host",
			spec: func(t *testing.T) *GPUSpec { return gpuSpec("/nonexistent/nvidia-smi") }},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := probeGPU(context.Background(), Env{}, tc.spec(t))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %s", d)
			}
		})
	}

	t.Run("not in PATH", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		_, err := probeGPU(context.Background(), Env{}, gpuSpec())
		if err == nil || err.Error() != "nvidia-smi not found: no NVIDIA driver on this host" {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestGPUSpecValidate(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(*GPUSpec)
		wantErr string
	}{
		{name: "defaults", mod: func(*GPUSpec) {}},
		{name: "empty command", mod: func(s *GPUSpec) { s.Command = nil }, wantErr: "command: is required"},
		{name: "NUL", mod: func(s *GPUSpec) { s.Command = []string{"nvidia-smi", "a\x00"} }, wantErr: "command: argument 1 holds a NUL byte"},
		{name: "negative timeout", mod: func(s *GPUSpec) { s.Timeout = -1 }, wantErr: "timeout: must not be negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := gpuSpec()
			tc.mod(s)
			checkValidateMsg(t, s.Validate(), tc.wantErr)
		})
	}
}

func TestGPUFromRegistry(t *testing.T) {
	k, s := registrySpec[*GPUSpec](t, "gpu")
	if len(s.Command) != 1 || s.Command[0] != "nvidia-smi" {
		t.Fatalf("default command = %v", s.Command)
	}
	dec := yaml.NewDecoder(strings.NewReader("command: [/usr/bin/nvidia-smi, -i, \"0\"]\ntimeout: 15s\n"))
	dec.KnownFields(true)
	if err := dec.Decode(s); err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(); err != nil || len(s.Command) != 3 || s.Timeout != 15*time.Second {
		t.Fatalf("decoded = %+v, %v", s, err)
	}
	want := "gpus,count,max_utilization,max_temperature_c,max_memory_ratio,ecc_uncorrected_total,driver_version,duration"
	if got := strings.Join(k.Fields(), ","); got != want {
		t.Errorf("fields = %s, want %s", got, want)
	}
}

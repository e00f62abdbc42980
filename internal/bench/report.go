package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sort"
	"text/tabwriter"
	"time"
)

// Report is one benchmark's result.
type Report struct {
	Bench  string             `json:"bench"`
	Go     string             `json:"go"`
	CPUs   int                `json:"cpus"`
	Rows   []Row              `json:"rows"`
	Ratios map[string]float64 `json:"ratios"`
}

// Row is one measured case.
type Row struct {
	Case     string  `json:"case"`
	N        int     `json:"n"`
	MedianMS float64 `json:"median_ms"`
	MinMS    float64 `json:"min_ms"`
	MaxMS    float64 `json:"max_ms"`
	// Bytes is a size that goes with the case (a file written, a peak
	// RSS), for benchmarks that measure one; omitted otherwise.
	Bytes int64 `json:"bytes,omitempty"`
}

func newReport(name string) *Report {
	return &Report{Bench: name, Go: runtime.Version(), CPUs: runtime.NumCPU(), Ratios: map[string]float64{}}
}

// samples collects durations per case.
type samples map[string][]time.Duration

func (s samples) median(c string) float64 { return msOf(median(s[c])) }

// median is the one median every benchmark uses: the middle value, or the
// mean of the two middle values of an even count; zero for none.
func median[T time.Duration | float64](v []T) T {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 0 {
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return v[len(v)/2]
}

// spread records a ratio measured once per round: its median under name,
// and the smallest and largest round under name_min and name_max.
func (r *Report) spread(name string, perRound []float64) {
	if len(perRound) == 0 {
		return
	}
	r.Ratios[name] = round3(median(perRound))
	r.Ratios[name+"_min"] = round3(slices.Min(perRound))
	r.Ratios[name+"_max"] = round3(slices.Max(perRound))
}

func msOf(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

func (r *Report) addRows(s samples, order []string) {
	for _, c := range order {
		d := s[c]
		if len(d) == 0 {
			continue
		}
		r.Rows = append(r.Rows, Row{Case: c, N: len(d), MedianMS: s.median(c), MinMS: msOf(slices.Min(d)), MaxMS: msOf(slices.Max(d))})
	}
}

// ratio records num's median over den's median.
func (r *Report) ratio(name string, s samples, num, den string) {
	if d := s.median(den); d > 0 {
		r.Ratios[name] = round3(s.median(num) / d)
	}
}

func round3(x float64) float64 { return float64(int64(x*1000+0.5)) / 1000 }

// WriteJSON prints the report as one JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}

// WriteTable prints the report for people.
func (r *Report) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "bench %s (%s, %d cpus)\n", r.Bench, r.Go, r.CPUs)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	withBytes := slices.ContainsFunc(r.Rows, func(row Row) bool { return row.Bytes != 0 })
	head := "case\tn\tmedian ms\tmin ms\tmax ms\t"
	if withBytes {
		head += "MiB\t"
	}
	fmt.Fprintln(tw, head)
	for _, row := range r.Rows {
		fmt.Fprintf(tw, "%s\t%d\t%.3f\t%.3f\t%.3f\t", row.Case, row.N, row.MedianMS, row.MinMS, row.MaxMS)
		if withBytes {
			mib := ""
			if row.Bytes != 0 {
				mib = fmt.Sprintf("%.1f", float64(row.Bytes)/(1<<20))
			}
			fmt.Fprintf(tw, "%s\t", mib)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	names := make([]string, 0, len(r.Ratios))
	for n := range r.Ratios {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "%-40s %.3f\n", n, r.Ratios[n])
	}
}

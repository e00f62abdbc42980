package cli

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/spf13/cobra"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/engine/pool"
	"github.com/proofd/proofd/engine/snarkclient"
	"github.com/proofd/proofd/examples/circuits"
	"github.com/proofd/proofd/snark"
)

// demoJob is one example taken through setup → prove → verify.
type demoJob struct {
	name   string
	size   int
	curve  ecc.ID
	scheme string

	constraints          int
	setup, prove, verify time.Duration
	proofBytes           int
	valid                bool
	pids                 string
	err                  error
}

func (a *app) demoCommand() *cobra.Command {
	var engines int
	var metrics bool
	cmd := &cobra.Command{
		Use:   "demo [--engines N]",
		Short: "take the example circuits through setup, prove and verify on a pool of engine processes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if engines < 1 {
				return fmt.Errorf("--engines %d: need at least 1", engines)
			}
			return a.demo(cmd.Context(), engines, metrics)
		},
	}
	cmd.Flags().IntVar(&engines, "engines", 2, "size of the engine pool the jobs share")
	cmd.Flags().BoolVar(&metrics, "metrics", false, "print the pool's Prometheus metrics at the end")
	return cmd
}

func (a *app) demo(ctx context.Context, engines int, metrics bool) error {
	jobs := []*demoJob{
		{name: "mimc", size: circuits.SizeForConstraints(ecc.BN254, 1<<12), curve: ecc.BN254, scheme: snarkclient.Groth16},
		{name: "mimc", size: circuits.SizeForConstraints(ecc.BN254, 1<<12), curve: ecc.BN254, scheme: snarkclient.Plonk},
		{name: "transfer", size: 10, curve: ecc.BN254, scheme: snarkclient.Groth16},
		{name: "transfer", size: 6, curve: ecc.BLS12_377, scheme: snarkclient.Plonk},
		{name: "recursive", size: 4, curve: ecc.BW6_761, scheme: snarkclient.Groth16},
	}
	reg := prometheus.NewRegistry()
	f, err := a.factory(engines, reg)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "demo: %d jobs on a pool of %d engine processes\n", len(jobs), engines)
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j.err = runDemoJob(ctx, f, j)
		}()
	}
	wg.Wait()
	closeErr := f.Close(ctx)

	tw := tabwriter.NewWriter(a.stdout, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "example\tcurve\tscheme\tconstraints\tsetup\tprove\tverify\tproof B\tvalid\tengine pids\t")
	var failed []error
	for _, j := range jobs {
		if j.err != nil {
			failed = append(failed, fmt.Errorf("%s/%s/%s: %w", j.name, snark.CurveName(j.curve), j.scheme, j.err))
			fmt.Fprintf(tw, "%s\t%s\t%s\t-\t-\t-\t-\t-\tERROR\t-\t\n", j.name, snark.CurveName(j.curve), j.scheme)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%d\t%v\t%s\t\n", j.name, snark.CurveName(j.curve), j.scheme,
			j.constraints, ms(j.setup), ms(j.prove), ms(j.verify), j.proofBytes, j.valid, j.pids)
	}
	tw.Flush()
	if metrics {
		if err := writeMetrics(a.stdout, reg); err != nil {
			return err
		}
	}
	if closeErr != nil {
		failed = append(failed, closeErr)
	}
	if len(failed) > 0 {
		return fmt.Errorf("demo: %d failures, first: %w", len(failed), failed[0])
	}
	for _, j := range jobs {
		if !j.valid {
			return fmt.Errorf("demo: %s proof did not verify", j.name)
		}
	}
	return nil
}

// runDemoJob takes one example through setup, prove and verify, each step
// on whichever pooled engine is free, preferring one that holds its inputs.
func runDemoJob(ctx context.Context, f *pool.Factory, j *demoJob) error {
	ex, err := circuits.Build(j.name, j.size, j.curve, j.scheme)
	if err != nil {
		return err
	}
	j.constraints = ex.CCS.GetNbConstraints()
	var ccsBuf bytes.Buffer
	if _, err := ex.CCS.WriteTo(&ccsBuf); err != nil {
		return err
	}
	wit, err := ex.Witness.MarshalBinary()
	if err != nil {
		return err
	}
	ccs := artifact.New(ccsBuf.Bytes())
	pids := map[int]bool{}
	// step times the call on the engine, not the wait for a free one.
	step := func(d *time.Duration, affinity []artifact.Digest, fn func(*pool.Lease) error) error {
		return f.DoLease(ctx, affinity, func(l *pool.Lease) error {
			pids[l.Pid()] = true
			start := time.Now()
			err := fn(l)
			*d = time.Since(start)
			return err
		})
	}
	var keys *snarkclient.SetupResult
	err = step(&j.setup, []artifact.Digest{ccs.Digest}, func(l *pool.Lease) (err error) {
		keys, err = snarkclient.New(l.Conn).Setup(ctx, snarkclient.SetupRequest{Name: j.name, CCS: ccs, Scheme: j.scheme, DevSRS: j.scheme == snarkclient.Plonk})
		if err == nil {
			// The keys stay resident where they were made: prove and
			// verify prefer that engine.
			l.Holds(keys.PK.Digest, keys.VK.Digest)
		}
		return err
	})
	if err != nil {
		return err
	}
	var proof *snarkclient.ProveResult
	err = step(&j.prove, []artifact.Digest{ccs.Digest, keys.PK.Digest}, func(l *pool.Lease) (err error) {
		proof, err = snarkclient.New(l.Conn).Prove(ctx, snarkclient.ProveRequest{Name: j.name, CCS: ccs, PK: keys.PK, Witness: wit})
		return err
	})
	if err != nil {
		return err
	}
	j.proofBytes = len(proof.Proof)
	err = step(&j.verify, []artifact.Digest{keys.VK.Digest}, func(l *pool.Lease) error {
		res, err := snarkclient.New(l.Conn).Verify(ctx, snarkclient.VerifyRequest{Name: j.name, VK: keys.VK, Proof: proof.Proof, Public: proof.Public})
		if err == nil {
			j.valid = res.Valid
		}
		return err
	})
	var list []string
	for pid := range pids {
		list = append(list, fmt.Sprint(pid))
	}
	sort.Strings(list)
	j.pids = strings.Join(list, ",")
	return err
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

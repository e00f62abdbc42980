package cli

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/spf13/cobra"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/engine"
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
	pid                  int
	err                  error
}

func (a *app) demoCommand() *cobra.Command {
	var engines int
	cmd := &cobra.Command{
		Use:   "demo [--engines N]",
		Short: "take the example circuits through setup, prove and verify on spawned engine processes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if engines < 1 {
				return fmt.Errorf("--engines %d: need at least 1", engines)
			}
			return a.demo(cmd.Context(), engines)
		},
	}
	cmd.Flags().IntVar(&engines, "engines", 2, "engine processes to spread the work over")
	return cmd
}

func (a *app) demo(ctx context.Context, engines int) error {
	jobs := []*demoJob{
		{name: "mimc", size: circuits.SizeForConstraints(ecc.BN254, 1<<12), curve: ecc.BN254, scheme: engine.Groth16},
		{name: "mimc", size: circuits.SizeForConstraints(ecc.BN254, 1<<12), curve: ecc.BN254, scheme: engine.Plonk},
		{name: "transfer", size: 20, curve: ecc.BN254, scheme: engine.Groth16},
		{name: "transfer", size: 8, curve: ecc.BLS12_377, scheme: engine.Plonk},
		{name: "recursive", size: 4, curve: ecc.BW6_761, scheme: engine.Groth16},
	}
	opts, err := a.spawnOptions()
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "demo: %d jobs on %d spawned engine processes (%s)\n", len(jobs), engines, opts.Path)
	queue := make(chan *demoJob)
	var wg sync.WaitGroup
	errs := make([]error, engines)
	for i := range engines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := engine.Spawn(ctx, opts)
			if err != nil {
				errs[i] = err
				for j := range queue {
					j.err = err
				}
				return
			}
			for j := range queue {
				j.pid = c.Pid()
				j.err = runDemoJob(ctx, c, j)
			}
			errs[i] = c.Close()
		}()
	}
	for _, j := range jobs {
		queue <- j
	}
	close(queue)
	wg.Wait()

	tw := tabwriter.NewWriter(a.stdout, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "example\tcurve\tscheme\tconstraints\tsetup\tprove\tverify\tproof B\tvalid\tengine pid\t")
	var failed []error
	for _, j := range jobs {
		if j.err != nil {
			failed = append(failed, fmt.Errorf("%s/%s/%s: %w", j.name, snark.CurveName(j.curve), j.scheme, j.err))
			fmt.Fprintf(tw, "%s\t%s\t%s\t-\t-\t-\t-\t-\tERROR\t%d\t\n", j.name, snark.CurveName(j.curve), j.scheme, j.pid)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%d\t%v\t%d\t\n", j.name, snark.CurveName(j.curve), j.scheme,
			j.constraints, ms(j.setup), ms(j.prove), ms(j.verify), j.proofBytes, j.valid, j.pid)
	}
	tw.Flush()
	for _, e := range errs {
		if e != nil {
			failed = append(failed, e)
		}
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

func runDemoJob(ctx context.Context, c *engine.Conn, j *demoJob) error {
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
	start := time.Now()
	keys, err := c.Setup(ctx, engine.SetupRequest{Name: j.name, CCS: ccs, Scheme: j.scheme, DevSRS: j.scheme == engine.Plonk})
	if err != nil {
		return err
	}
	j.setup = time.Since(start)
	start = time.Now()
	proof, err := c.Prove(ctx, engine.ProveRequest{Name: j.name, CCS: ccs, PK: keys.PK, Witness: wit})
	if err != nil {
		return err
	}
	j.prove = time.Since(start)
	j.proofBytes = len(proof.Proof)
	start = time.Now()
	res, err := c.Verify(ctx, engine.VerifyRequest{Name: j.name, VK: keys.VK, Proof: proof.Proof, Public: proof.Public})
	if err != nil {
		return err
	}
	j.verify = time.Since(start)
	j.valid = res.Valid
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

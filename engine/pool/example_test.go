package pool_test

import (
	"bytes"
	"context"
	"fmt"
	"log"

	"github.com/consensys/gnark-crypto/ecc"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/engine"
	"github.com/proofd/proofd/engine/host"
	"github.com/proofd/proofd/engine/pool"
	"github.com/proofd/proofd/engine/snarkclient"
	"github.com/proofd/proofd/examples/circuits"
	"github.com/proofd/proofd/snark"
)

// A pool of two long-lived engines; each call goes to an idle engine that
// already holds its artifacts (including keys a call reported with Holds),
// and is retried on another engine if its engine dies under it. Production code starts engine processes
// (engine.Spawn with engine.SelfEngine); this example serves them in-process
// so that it runs anywhere.
func ExampleFactory() {
	ctx := context.Background()
	f, err := pool.New(pool.Config{
		PoolSize: 2,
		Start: func(ctx context.Context) (*engine.Conn, error) {
			srv, err := host.NewServer(snark.Config(nil))
			if err != nil {
				return nil, err
			}
			return engine.InProcess(ctx, srv.ServeInProcess())
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close(ctx)

	ex, err := circuits.Build("mimc", 4, ecc.BN254, snarkclient.Groth16)
	if err != nil {
		log.Fatal(err)
	}
	var ccs, wit bytes.Buffer
	if _, err := ex.CCS.WriteTo(&ccs); err != nil {
		log.Fatal(err)
	}
	if _, err := ex.Witness.WriteTo(&wit); err != nil {
		log.Fatal(err)
	}
	circuit := artifact.New(ccs.Bytes())

	var keys *snarkclient.SetupResult
	var proof *snarkclient.ProveResult
	err = f.DoLease(ctx, []artifact.Digest{circuit.Digest}, func(l *pool.Lease) (err error) {
		sc := snarkclient.New(l.Conn)
		if keys, err = sc.Setup(ctx, snarkclient.SetupRequest{CCS: circuit, Scheme: snarkclient.Groth16}); err != nil {
			return err
		}
		// The keys now live on this engine: later calls that need them
		// (the verification below) prefer it.
		l.Holds(keys.PK.Digest, keys.VK.Digest)
		proof, err = sc.Prove(ctx, snarkclient.ProveRequest{CCS: circuit, PK: keys.PK, Witness: wit.Bytes()})
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
	err = f.Do(ctx, []artifact.Digest{keys.VK.Digest}, func(c *engine.Conn) error {
		res, err := snarkclient.New(c).Verify(ctx, snarkclient.VerifyRequest{VK: keys.VK, Proof: proof.Proof, Public: proof.Public})
		if err != nil {
			return err
		}
		fmt.Println("valid:", res.Valid)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output: valid: true
}

package engine_test

import (
	"context"
	"log"

	"github.com/proofd/proofd/artifact"
	"github.com/proofd/proofd/engine"
)

// A pool of two long-lived engine processes; each verification goes to an
// idle engine that already holds the verifying key, and is retried on
// another engine if its engine dies under it.
func ExampleFactory() {
	ctx := context.Background()
	f, err := engine.NewFactory(engine.FactoryConfig{
		PoolSize: 2,
		Start: func(ctx context.Context) (*engine.Conn, error) {
			return engine.Spawn(ctx, engine.SpawnOptions{Path: "proofd", Args: []string{"engine", "serve", "--exit-on-stdin-eof"}})
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close(ctx)

	var vk artifact.Artifact // artifact.New(vkBytes)
	var proof, public []byte
	err = f.Do(ctx, []artifact.Digest{vk.Digest}, func(c *engine.Conn) error {
		res, err := c.Verify(ctx, engine.VerifyRequest{VK: vk, Proof: proof, Public: public})
		if err != nil {
			return err
		}
		log.Printf("valid: %v", res.Valid)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
}

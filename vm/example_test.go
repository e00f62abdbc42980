package vm_test

import (
	"context"
	"fmt"

	"github.com/proofd/proofd/vm"
)

// Run the hello guest to step 1000, prove step 1000, then run to the exit.
func Example() {
	st, _, err := vm.LoadELF("../testdata/guests/hello.elf")
	if err != nil {
		panic(err)
	}
	m := vm.NewMachine(st, nil, nil, nil, nil)
	if err := m.RunTo(context.Background(), 1000); err != nil {
		panic(err)
	}
	p, err := m.StepWithProof()
	if err != nil {
		panic(err)
	}
	fmt.Println("step", p.Step, "pre", p.Pre, "post", p.Post)
	if err := m.RunTo(context.Background(), ^uint64(0)); err != nil {
		panic(err)
	}
	fmt.Println("exited at step", m.Step(), "with code", st.GetExitCode(), "claim", vm.Claim(st))
	// Output:
	// step 1000 pre 0x03af201f18a0e5ec72b326f5efcdf0cd13d4deba77cab6b0f4953f9cbdb62e45 post 0x0376a06a20bd8d6a78a5c0015bc306f20eb1962714ae6f0c888ae817c9afe15e
	// exited at step 1553427 with code 0 claim 0x009d34ad96733f0c6310b2b3117a0d6033fb4aa31a32fbd87a172c34ec49c1fc
}

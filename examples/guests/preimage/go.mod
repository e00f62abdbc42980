module github.com/proofd/proofd/examples/guests/preimage

go 1.24

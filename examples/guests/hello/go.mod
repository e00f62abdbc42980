module github.com/proofd/proofd/examples/guests/hello

go 1.24

module fluid.local/benchmarks/webhook_load

go 1.22

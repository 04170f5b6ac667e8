# The two commands a new user needs (see README.md).
.PHONY: run test bench

run:  ## set up, then run the demo
	bash dev/run.sh

test:  ## set up, then run every test in the A1111, Forge and numpy 2 environments (the ComfyUI nodes in a fourth), then lint
	bash dev/test.sh $(ARGS)

bench:  ## print the speed and quality figures quoted in README.md
	.venv-forge/bin/python benchmarks/bench_dfi.py

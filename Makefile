# The two commands: `make run` (the service on :8000 with a local CouchDB) and `make test`.
.PHONY: run test lint bench

run:
	scripts/run.sh

test:
	scripts/test.sh

lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings

bench:
	scripts/bench.sh

# The two commands: `make run` (the service on :8000 with a local CouchDB) and `make test`.
.PHONY: run test lint bench faults fuzz-api fuzz

run:
	scripts/run.sh

test:
	scripts/test.sh

lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings

bench:
	scripts/bench.sh

# The fault drills and the brute-force check alone, printing their counts (part of `make test`).
faults:
	scripts/test.sh faults:: ingest_faults:: couch_restart:: early_delivery:: \
		ingest::http_destination_retried_until_it_answers \
		auth::a_thousand_wrong_logins_are_throttled_without_slowing_other_accounts

# schemathesis over GET /v2/rec_ext/openapi.json against the real service (minutes).
fuzz-api:
	scripts/fuzz-api.sh

# The cargo-fuzz targets, one minute each (needs a nightly toolchain; see fuzz/README.md).
fuzz:
	for t in $$(cargo +nightly fuzz list); do \
		cargo +nightly fuzz run $$t -- -max_total_time=$${FUZZ_SECONDS:-60} || exit 1; done

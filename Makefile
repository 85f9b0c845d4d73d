# The two commands a new user needs: `make demo` and `make test`.
SHELL := /bin/bash
TOOLS := $(CURDIR)/.tools/bin
export ROOTMAIL_TOOLS_DIR := $(TOOLS)

.PHONY: tools build test lint docs demo release install clean bench bench-quick

tools:
	@scripts/install-tools.sh

build:
	cargo build --bins

lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings

# End-to-end tests run Terraform 1.0.3 and a modern one (>= 1.5, see
# scripts/modern-terraform.sh); which ones is said before and after the run.
test: tools
	cargo build --bins
	@scripts/modern-terraform.sh
	cargo test --no-fail-fast -- --test-threads=4; status=$$?; scripts/modern-terraform.sh; exit $$status
	scripts/check-no-test-hooks.sh

# Performance benchmark against Azurite and terraform (~15 min); writes docs/performance.md.
# Its latency section compares with `terraform_data`: it needs a Terraform >= 1.5
# (ROOTMAIL_TERRAFORM_MODERN, or `terraform` on PATH) and says so before anything runs.
bench: tools
	scripts/install-bench-tools.sh >/dev/null
	cargo bench --bench claims

# Every section at a small size, as a smoke run (writes target/performance-quick.md).
bench-quick: tools
	scripts/install-bench-tools.sh >/dev/null
	cargo bench --bench claims -- --quick

docs:
	ROOTMAIL_WRITE_DOCS=1 cargo test --test docs

demo: tools
	cargo build --release --bins
	scripts/demo.sh

release:
	cargo build --release --bins
	scripts/package.sh

install: release
	scripts/package.sh --install

clean:
	rm -rf target .tools dist

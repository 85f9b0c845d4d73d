#!/usr/bin/env bash
# Says which modern Terraform (>= 1.5) the end-to-end tests run besides 1.0.3:
# ROOTMAIL_TERRAFORM_MODERN, else the first `terraform` on PATH that is >= 1.5
# (the same choice testkit/src/terraform.rs makes). Without one, the modern
# suite does not run; with ROOTMAIL_REQUIRE_MODERN_TERRAFORM=1 (as .ci/run
# sets) that is an error.
set -uo pipefail

version_of() {
  CHECKPOINT_DISABLE=1 "$1" version -json 2>/dev/null |
    sed -n 's/.*"terraform_version": *"\([0-9][0-9.]*\)".*/\1/p' | head -n 1
}

is_modern() {
  local major minor
  IFS=. read -r major minor _ <<<"$1"
  [ -n "$major" ] && [ -n "$minor" ] && { [ "$major" -gt 1 ] || { [ "$major" -eq 1 ] && [ "$minor" -ge 5 ]; }; }
}

found="" why=""
if [ -n "${ROOTMAIL_TERRAFORM_MODERN:-}" ]; then
  v="$(version_of "$ROOTMAIL_TERRAFORM_MODERN")"
  if is_modern "$v"; then found="$ROOTMAIL_TERRAFORM_MODERN ($v)"; else why="ROOTMAIL_TERRAFORM_MODERN=$ROOTMAIL_TERRAFORM_MODERN is not a Terraform >= 1.5 (version: ${v:-none})"; fi
else
  IFS=: read -r -a dirs <<<"${PATH:-}"
  for d in "${dirs[@]}"; do
    t="$d/terraform"
    [ -f "$t" ] && [ -x "$t" ] || continue
    v="$(version_of "$t")"
    if is_modern "$v"; then found="$t ($v)"; break; fi
  done
  [ -n "$found" ] || why="no terraform >= 1.5 on PATH and ROOTMAIL_TERRAFORM_MODERN is not set"
fi

if [ -n "$found" ]; then
  echo "e2e: Terraform 1.0.3 (.tools/bin/terraform) and modern Terraform $found"
  exit 0
fi
if [ "${ROOTMAIL_REQUIRE_MODERN_TERRAFORM:-}" = "1" ]; then
  echo "e2e: ERROR: the modern Terraform suite cannot run: $why (ROOTMAIL_REQUIRE_MODERN_TERRAFORM=1)" >&2
  exit 1
fi
echo "e2e: NOTE: the modern Terraform suite (import blocks, -generate-config-out, removed, moved, check) does NOT run: $why"

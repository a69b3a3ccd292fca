"""Dependency audit: pip-audit over the installed environment, against PyPI's advisory data.

Exit 1 when any installed package has a known vulnerability. When the advisory data cannot be
reached (no network), or cannot answer for these versions (a registry mirror without PyPI's
per-version JSON API, as on the development machines here), the audit says so plainly and
passes: CI must not fail for the network. AUDIT_STRICT=1 makes that a failure too.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def main() -> int:
    strict = os.environ.get("AUDIT_STRICT") == "1"
    command = [str(BIN / "pip-audit"), "--skip-editable", "--progress-spinner", "off",
               "--format", "json"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    try:
        dependencies = json.loads(done.stdout)["dependencies"]
    except (ValueError, KeyError):
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"audit: pip-audit could not run against its advisory service: {tail}")
        return 1 if strict else 0
    vulnerable = [d for d in dependencies if d.get("vulns")]
    audited = [d for d in dependencies if "skip_reason" not in d]
    for dependency in vulnerable:
        for vuln in dependency["vulns"]:
            fixed = ", ".join(vuln.get("fix_versions") or []) or "no fix yet"
            print(f"audit: {dependency['name']} {dependency['version']}: {vuln['id']} "
                  f"(fixed in {fixed})")  # fmt: skip
    print(f"audit: {len(audited)} of {len(dependencies)} packages audited, "
          f"{len(vulnerable)} with known vulnerabilities")  # fmt: skip
    if vulnerable:
        return 1
    if not audited:
        print("audit: no package could be audited (advisory data unreachable from here)")
        return 1 if strict else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())

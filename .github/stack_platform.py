"""Print a stack's image platform as a GitHub step output, e.g. `platform=linux/arm64`.

The stack's `serverless-hub:platform` in Pulumi.<stack>.yaml, else Pulumi.yaml's default: what
`pulumi up` builds for, so a job can set up QEMU for an arm64 image on GitHub's x86 runners.
Usage: .venv/bin/python .github/stack_platform.py STACK [ROOT]   (needs pyyaml, which
requirements.txt installs; ROOT defaults to this repository's root)
"""

import sys
from pathlib import Path

import yaml


def platform_of(root: Path, stack: str) -> str:
    project = yaml.safe_load((root / "Pulumi.yaml").read_text())
    config = yaml.safe_load((root / f"Pulumi.{stack}.yaml").read_text()).get("config") or {}
    return config.get(f"{project['name']}:platform", project["config"]["platform"]["default"])


if __name__ == "__main__":
    root = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(__file__).resolve().parents[1]
    print(f"platform={platform_of(root, sys.argv[1])}")

"""Print the repository's stacks as the JSON list a workflow matrix takes, e.g. ["dev", "prod"].

A stack is a `Pulumi.<stack>.yaml` in the repository root (`Pulumi.yaml` is the project).
Usage: python3 .github/list_stacks.py [ROOT]   (ROOT defaults to this repository's root)
"""

import json
import re
import sys
from pathlib import Path

# Pulumi's rule for a stack name; anything else is refused before it reaches a workflow.
STACK_NAME = re.compile(r"[A-Za-z0-9_.-]+")


def stacks_in(root: Path) -> list[str]:
    """The stack names of the `Pulumi.<stack>.yaml` files in root, sorted."""
    names = sorted(
        path.name.removeprefix("Pulumi.").removesuffix(".yaml")
        for path in root.glob("Pulumi.?*.yaml")
    )
    for name in names:
        if not STACK_NAME.fullmatch(name):
            raise SystemExit(
                f"Pulumi.{name}.yaml: {name!r} is not a stack name "
                "(letters, digits, '-', '_' and '.' only); rename the file"
            )
    if not names:
        raise SystemExit(f"no Pulumi.<stack>.yaml in {root}: commit at least one stack's settings")
    return names


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1]
    print(json.dumps(stacks_in(root)))

"""Remove the files that belong only to option values the user did not choose.

The file lists live in cookiecutter.json (`_prune`) and the rule in tools/template_rules.py, imported from the
template checkout; copier's `_exclude` reads the same lists, so both tools produce the same tree.
"""

import json
import shutil
import sys
from pathlib import Path

CONTEXT = json.loads({{ cookiecutter | jsonify | tojson }})
sys.path.insert(0, {{ template_dir | tojson }})  # the template checkout, absolute (tools/answer_check.py)
from tools.template_rules import pruned_patterns  # noqa: E402


def main() -> None:
    root = Path.cwd()
    for pattern in sorted(pruned_patterns(CONTEXT["_prune"], CONTEXT)):
        for path in root.glob(pattern.strip("/")):
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()


if __name__ == "__main__":
    main()

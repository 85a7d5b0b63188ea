"""Regenerate the gRPC stubs from prediction/v1/prediction.proto: `make proto` (grpcio-tools is in the dev extra).

protoc names modules after the .proto's path (`prediction.v1.prediction_pb2`), but the stubs live inside the
package, so the service module's import of its message module is rewritten to a relative one. The stubs hold no
project name, and the project's tests regenerate them into a temporary directory to prove they are current.

Usage: python proto/generate.py OUTPUT_DIR
"""

from __future__ import annotations

import re
import sys
import tempfile
from importlib.resources import files
from pathlib import Path

from grpc_tools import protoc

PROTO_ROOT = Path(__file__).resolve().parent
PROTO = Path("prediction/v1/prediction.proto")
STUBS = ("prediction_pb2.py", "prediction_pb2.pyi", "prediction_pb2_grpc.py")
ABSOLUTE_IMPORT = re.compile(r"^from prediction\.v1 import (prediction_pb2 as \w+)$", re.MULTILINE)


def generate(output_dir: Path) -> list[Path]:
    """Write the three stub files into `output_dir` and return their paths."""
    with tempfile.TemporaryDirectory() as scratch:
        status = protoc.main(
            [
                "grpc_tools.protoc",
                f"--proto_path={PROTO_ROOT}",
                f"--proto_path={files('grpc_tools') / '_proto'}",  # the well-known types, for imports
                f"--python_out={scratch}",
                f"--pyi_out={scratch}",
                f"--grpc_python_out={scratch}",
                str(PROTO_ROOT / PROTO),
            ]
        )
        if status != 0:
            raise SystemExit(f"protoc failed on {PROTO} (exit {status})")
        written = []
        for name in STUBS:
            text = (Path(scratch) / PROTO.parent / name).read_text(encoding="utf-8")
            if name.endswith("_grpc.py"):
                text, count = ABSOLUTE_IMPORT.subn(r"from . import \1", text)
                if count != 1:
                    raise SystemExit(f"{name}: expected one import of prediction_pb2 to make relative, found {count}")
            target = output_dir / name
            target.write_text(text, encoding="utf-8")
            written.append(target)
    return written


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__.strip().splitlines()[-1])
    for path in generate(Path(sys.argv[1])):
        print(f"wrote {path}")

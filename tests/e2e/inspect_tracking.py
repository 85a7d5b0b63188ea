"""Run INSIDE a baked project's venv: ask the tracking backend's own client what it recorded; print JSON.

usage: python inspect_tracking.py TRACKING PACKAGE
"""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path


def mlflow_summary(package: str) -> dict:
    import mlflow

    client = mlflow.MlflowClient()
    model = client.get_registered_model(package)
    champion = model.aliases.get("champion")
    versions = client.search_model_versions(f"name='{package}'")
    result = {"model": model.name, "champion": str(champion) if champion else None, "versions": len(versions)}
    if champion:
        version = client.get_model_version(package, str(champion))
        run = client.get_run(version.run_id)
        info = mlflow.models.get_model_info(f"models:/{package}@champion")
        result |= {
            "params": dict(run.data.params),
            "metrics": sorted(run.data.metrics),
            "tags": {k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")},
            "signature_inputs": [spec.name for spec in info.signature.inputs],
            "has_input_example": info.saved_input_example_info is not None,
        }
    return result


def wandb_records(run_file: Path):
    """Decode a W&B offline run file (a LevelDB-style log of W&B's own `Record` protobufs)."""
    from wandb.proto import wandb_internal_pb2

    data = run_file.read_bytes()
    header = struct.Struct("<4sHB")
    magic, _, _ = header.unpack_from(data)
    assert magic == b":W&B", run_file
    block, position, pending = 32768, header.size, b""
    while position + 7 <= len(data):
        if block - position % block < 7:  # block trailer padding
            position += block - position % block
            continue
        _, length, kind = struct.unpack_from("<IHB", data, position)
        chunk = data[position + 7 : position + 7 + length]
        position += 7 + length
        if kind == 0 and length == 0:
            continue
        pending += chunk
        if kind in (1, 4):  # FULL or LAST
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            pending = b""
            yield record


def wandb_summary(package: str) -> dict:
    runs, artifacts = [], []
    for run_file in sorted(Path("wandb").glob("offline-run-*/run-*.wandb")):
        run = {"job_type": None, "config": {}, "summary": {}}
        for record in wandb_records(run_file):
            kind = record.WhichOneof("record_type")
            if kind == "run":
                run["job_type"] = record.run.job_type
                run["config"] |= {item.key: json.loads(item.value_json) for item in record.run.config.update}
            elif kind == "config":
                run["config"] |= {item.key: json.loads(item.value_json) for item in record.config.update}
            elif kind == "summary":
                run["summary"] |= {item.key: json.loads(item.value_json) for item in record.summary.update}
            elif kind == "artifact":
                metadata = json.loads(record.artifact.metadata or "{}")
                artifacts.append(
                    {"name": record.artifact.name, "aliases": list(record.artifact.aliases), "metadata": metadata}
                )
        runs.append(run)
    return {"runs": runs, "artifacts": artifacts}


def local_summary(package: str) -> dict:
    ref = Path("models/champion.json")
    return {
        "champion": json.loads(ref.read_text()) if ref.exists() else None,
        "file": Path("models/champion.skops").is_file(),
    }


if __name__ == "__main__":
    tracking, package = sys.argv[1], sys.argv[2]
    summarise = {
        "mlflow": mlflow_summary,
        "mlflow-server": mlflow_summary,
        "wandb": wandb_summary,
        "none": local_summary,
    }
    print(json.dumps(summarise[tracking](package)))

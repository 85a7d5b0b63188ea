"""The part of kustomize the generated `deploy/k8s/` uses, to render its base and overlays without a kustomize binary.

No kustomize is installable from PyPI (it is a Go program), so this implements, after kustomize's documented
behaviour, exactly the fields the generated kustomizations use: `resources` (files and directories holding a
kustomization), `patches` (strategic merge patches, inline or by path, with a `target` of kind and name),
`namespace`, `labels` (with `includeSelectors: false`) and `images`. A kustomization using any other field is
refused, so the generated manifests cannot drift beyond what this renders. Transformers run in kustomize's order:
patches, namespace, labels, images.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

SUPPORTED = {"apiVersion", "kind", "resources", "patches", "namespace", "labels", "images"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass"}
# Strategic merge: lists of objects merged item by item on this key (as the Kubernetes API's patchMergeKey).
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "ports": "containerPort",
}


class KustomizeError(Exception):
    pass


def build(directory: Path) -> list[dict[str, Any]]:
    """The resources `kustomize build directory` would print, in order."""
    path = directory / "kustomization.yaml"
    if not path.is_file():
        raise KustomizeError(f"{directory}: no kustomization.yaml")
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    unknown = set(spec) - SUPPORTED
    if unknown:
        raise KustomizeError(f"{path}: fields this renderer does not implement: {sorted(unknown)}")
    if (spec.get("apiVersion"), spec.get("kind")) != ("kustomize.config.k8s.io/v1beta1", "Kustomization"):
        raise KustomizeError(f"{path}: not a kustomize.config.k8s.io/v1beta1 Kustomization")
    resources: list[dict[str, Any]] = []
    for entry in spec.get("resources", []):
        target = (directory / entry).resolve()
        if target.is_dir():
            resources += build(target)
        elif target.is_file():
            resources += [doc for doc in yaml.safe_load_all(target.read_text(encoding="utf-8")) if doc]
        else:
            raise KustomizeError(f"{path}: resource {entry!r} does not exist")
    _check_unique(resources, path)
    for patch in spec.get("patches", []):
        _apply_patch(resources, patch, directory)
    if "namespace" in spec:
        for resource in resources:
            if resource["kind"] not in CLUSTER_SCOPED:
                resource["metadata"]["namespace"] = spec["namespace"]
    for labels in spec.get("labels", []):
        _add_labels(resources, labels, path)
    for image in spec.get("images", []):
        if not _set_image(resources, image):
            raise KustomizeError(f"{path}: images: no container runs {image['name']!r}")
    return resources


def _check_unique(resources: list[dict[str, Any]], path: Path) -> None:
    seen: set[tuple[str, str, str | None]] = set()
    for resource in resources:
        key = (resource["kind"], resource["metadata"]["name"], resource["metadata"].get("namespace"))
        if key in seen:
            raise KustomizeError(f"{path}: {key[0]} {key[1]} appears twice")
        seen.add(key)


def _apply_patch(resources: list[dict[str, Any]], entry: dict[str, Any], directory: Path) -> None:
    if set(entry) - {"patch", "path", "target"}:
        raise KustomizeError(f"patch fields this renderer does not implement: {sorted(entry)}")
    text = entry["patch"] if "patch" in entry else (directory / entry["path"]).read_text(encoding="utf-8")
    patch = yaml.safe_load(text)
    if not isinstance(patch, dict):
        raise KustomizeError("only strategic merge patches (an object) are implemented, not JSON 6902 lists")
    target = entry.get("target") or {"kind": patch["kind"], "name": patch["metadata"]["name"]}
    if set(target) - {"kind", "name"}:
        raise KustomizeError(f"patch target fields this renderer does not implement: {sorted(target)}")
    matched = [r for r in resources if r["kind"] == target["kind"] and r["metadata"]["name"] == target["name"]]
    if not matched:
        raise KustomizeError(f"patch target {target} matches no resource")
    for resource in matched:
        merged = strategic_merge(resource, patch)
        resource.clear()
        resource.update(merged)


def strategic_merge(original: Any, patch: Any, field: str | None = None) -> Any:
    """Kubernetes' strategic merge patch, for the list fields in MERGE_KEYS; other lists are replaced."""
    if isinstance(original, dict) and isinstance(patch, dict):
        merged = copy.deepcopy(original)
        for key, value in patch.items():
            if value is None:
                merged.pop(key, None)
            elif key in merged:
                merged[key] = strategic_merge(merged[key], value, key)
            else:
                merged[key] = copy.deepcopy(value)
        return merged
    if isinstance(original, list) and isinstance(patch, list) and field in MERGE_KEYS:
        key = MERGE_KEYS[field]
        merged_list = copy.deepcopy(original)
        for item in patch:
            index = next((i for i, old in enumerate(merged_list) if old.get(key) == item.get(key)), None)
            if index is None:
                merged_list.append(copy.deepcopy(item))
            else:
                merged_list[index] = strategic_merge(merged_list[index], item)
        return merged_list
    return copy.deepcopy(patch)


def _template_label_paths(resource: dict[str, Any]) -> list[list[str]]:
    """Where a kind's pod (or job) templates keep their labels."""
    kind = resource["kind"]
    if kind in {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}:
        return [["spec", "template", "metadata", "labels"]]
    if kind == "CronJob":
        return [
            ["spec", "jobTemplate", "metadata", "labels"],
            ["spec", "jobTemplate", "spec", "template", "metadata", "labels"],
        ]
    return []


def _add_labels(resources: list[dict[str, Any]], entry: dict[str, Any], path: Path) -> None:
    if set(entry) - {"pairs", "includeSelectors", "includeTemplates"} or entry.get("includeSelectors", False):
        raise KustomizeError(f"{path}: labels: only `pairs` with includeSelectors false are implemented")
    for resource in resources:
        paths = [["metadata", "labels"]]
        if entry.get("includeTemplates", False):
            paths += _template_label_paths(resource)
        for fields in paths:
            node = resource
            for name in fields:
                node = node.setdefault(name, {})
            node.update(entry["pairs"])


def _containers(node: Any) -> list[dict[str, Any]]:
    """Every container (and init container) anywhere below node, as kustomize's image transformer finds them."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in {"containers", "initContainers"} and isinstance(value, list):
                found += [item for item in value if isinstance(item, dict)]
            else:
                found += _containers(value)
    elif isinstance(node, list):
        for item in node:
            found += _containers(item)
    return found


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """(name, tag, digest) of an image reference; a registry's port is part of the name, not a tag."""
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = None
    if ":" in last:
        name, tag = name.rsplit(":", 1)
    return name, tag, digest or None


def _set_image(resources: list[dict[str, Any]], entry: dict[str, Any]) -> bool:
    if set(entry) - {"name", "newName", "newTag", "digest"}:
        raise KustomizeError(f"images fields this renderer does not implement: {sorted(entry)}")
    changed = False
    for resource in resources:
        for container in _containers(resource):
            name, tag, digest = split_image(container.get("image", ""))
            if name != entry["name"]:
                continue
            name = entry.get("newName", name)
            if "digest" in entry:
                tag, digest = None, entry["digest"]
            elif "newTag" in entry:
                tag, digest = str(entry["newTag"]), None
            container["image"] = name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
            changed = True
    return changed

"""Run a generated project's container without a Docker engine: the image's own instructions, replayed here.

`Image.parse(Dockerfile)` reads what the final image holds and how it starts (the builder's install, the runtime
stage's COPY, WORKDIR, ENV, CMD/ENTRYPOINT, HEALTHCHECK). `Image.assemble(...)` then builds a stand-in: a virtual
environment installed exactly as the builder installs /opt/venv (its `pip install` requirements, or its own `uv`
commands run here against the build context, so `uv sync --frozen` installs from uv.lock) and a directory tree
holding exactly what COPY puts into the image, from the build context the .dockerignore allowlist leaves
(`build_context`). Paths of the
image (/app, /data, /opt/venv) map into that stand-in; nothing else changes except HOST and ports, which tests set
to 127.0.0.1 and free ports.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .projects import UV

VENV = "/opt/venv"
BASE_IMAGE_PATH = "/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin"  # python:*-slim's PATH
IMAGE_ROOTS = re.compile(r"/(?:opt/venv|app|data)(?=/|$|:)")


@dataclass
class Instruction:
    keyword: str
    arguments: str
    flags: dict[str, str] = field(default_factory=dict)


def instructions(dockerfile: Path) -> list[Instruction]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped, `--flag=value`s split off."""
    parsed: list[Instruction] = []
    pending = ""
    for line in dockerfile.read_text(encoding="utf-8").splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        keyword, _, rest = (pending + line.strip()).partition(" ")
        pending = ""
        flags: dict[str, str] = {}
        while keyword.upper() in {"COPY", "ADD", "RUN"} and rest.startswith("--"):
            flag, _, rest = rest.partition(" ")
            name, _, value = flag[2:].partition("=")
            flags[name] = value
        parsed.append(Instruction(keyword.upper(), rest.strip(), flags))
    return parsed


def exec_form(arguments: str) -> list[str]:
    """CMD/ENTRYPOINT/HEALTHCHECK CMD must use the JSON exec form (no shell between Docker and the process)."""
    value = json.loads(arguments)
    assert isinstance(value, list) and all(isinstance(part, str) for part in value), arguments
    return value


def env_pairs(arguments: str) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in shlex.split(arguments))


UV_PIN = re.compile(r"pip install [^&]*\buv==(?P<version>[\w.]+)")
UV_COMMAND = re.compile(r"\buv (?:sync|export|venv|pip install)\b")


@dataclass
class Image:
    requirements: list[str]  # what the builder pip-installs into /opt/venv ("." is the build context); [] with uv
    runtime: list[Instruction]
    uv_commands: list[str] = field(default_factory=list)  # the builder's RUN lines that run uv, in order
    uv_version: str | None = None  # the version the builder pip-installs uv at
    builder_env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, dockerfile: Path) -> Image:
        parsed = instructions(dockerfile)
        stages = [i for i, instruction in enumerate(parsed) if instruction.keyword == "FROM"]
        assert len(stages) == 2, "expected a builder and a runtime stage"
        builder, runtime = parsed[stages[0] : stages[1]], parsed[stages[1] :]
        runs = [i.arguments for i in builder if i.keyword == "RUN"]
        builder_env = {k: v for i in builder if i.keyword == "ENV" for k, v in env_pairs(i.arguments).items()}
        uv_commands = [run for run in runs if UV_COMMAND.search(run)]
        if uv_commands:
            pins = [match.group("version") for run in runs if (match := UV_PIN.search(run))]
            assert len(pins) == 1, f"the builder must pip-install one pinned uv, found {pins}"
            return cls([], runtime, uv_commands, pins[0], builder_env)
        installs = [run for run in runs if f"{VENV}/bin/pip install" in run]
        assert len(installs) == 1, installs
        command = installs[0].split(f"{VENV}/bin/pip install", 1)[1]
        requirements = [word for word in shlex.split(command) if not word.startswith("-")]
        return cls(requirements, runtime, builder_env=builder_env)

    def last(self, keyword: str) -> Instruction | None:
        found = [i for i in self.runtime if i.keyword == keyword]
        return found[-1] if found else None

    @property
    def env(self) -> dict[str, str]:
        merged: dict[str, str] = {}
        for instruction in self.runtime:
            if instruction.keyword == "ENV":
                merged.update(env_pairs(instruction.arguments))
        return merged

    @property
    def workdir(self) -> str:
        workdir = self.last("WORKDIR")
        return workdir.arguments if workdir else "/"

    @property
    def command(self) -> list[str]:
        entrypoint, cmd = self.last("ENTRYPOINT"), self.last("CMD")
        return (exec_form(entrypoint.arguments) if entrypoint else []) + (exec_form(cmd.arguments) if cmd else [])

    @property
    def healthcheck(self) -> list[str] | None:
        """The HEALTHCHECK command, or None for `HEALTHCHECK NONE`."""
        instruction = self.last("HEALTHCHECK")
        assert instruction is not None, "no HEALTHCHECK instruction (say NONE explicitly for a job image)"
        if instruction.arguments == "NONE":
            return None
        command = re.search(r"(?:^|\s)CMD\s+(\[.*\])$", instruction.arguments)
        assert command, f"HEALTHCHECK {instruction.arguments}: expected `[OPTIONS] CMD [exec form]`"
        return exec_form(command.group(1))

    def assemble(self, project: Path, where: Path) -> Container:
        """Install /opt/venv as the builder does and lay out what the runtime stage copies, from the build context
        the project's .dockerignore leaves."""
        context = build_context(project, where / "context")
        venv = where / "venv"
        if self.uv_commands:
            self.replay_uv(context, venv, where / "tmp")
        else:
            subprocess.run([UV, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
            # "." and ".[extra]" are the build context (the builder's WORKDIR holds its copy)
            requirements = [f"{context}{spec[1:]}" if spec.startswith(".") else spec for spec in self.requirements]
            subprocess.run(
                [UV, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), *requirements],
                check=True,
                timeout=1200,
            )
        container = Container(root=where / "image", venv=venv, image=self)
        workdir = self.workdir
        for instruction in self.runtime:
            if instruction.keyword == "COPY" and "from" not in instruction.flags:
                *sources, destination = shlex.split(instruction.arguments)
                target = container.path(destination if destination.startswith("/") else f"{workdir}/{destination}")
                for source in sources:
                    copy_into(context / source, target, many=len(sources) > 1 or destination.endswith("/"))
            elif instruction.keyword == "COPY":
                assert instruction.arguments == f"{VENV} {VENV}", instruction  # the builder's venv: ours
            elif instruction.keyword == "RUN":
                container.replay(instruction.arguments)
            elif instruction.keyword == "WORKDIR":
                container.path(instruction.arguments).mkdir(parents=True, exist_ok=True)
        return container

    def replay_uv(self, context: Path, venv: Path, scratch: Path) -> None:
        """Run the builder's own uv commands here: in the build context (the builder's WORKDIR holds its copy),
        with /opt/venv and /tmp mapped, this machine's Python standing in for the image's, and the builder's ENV.
        The uv here must be the version the Dockerfile pins. `--no-cache` is dropped: the cache changes how fast
        packages arrive, not which ones (uv.lock decides, `--frozen` refuses to re-resolve)."""
        here = subprocess.run([UV, "--version"], capture_output=True, text=True, check=True).stdout.split()[1]
        assert here == self.uv_version, f"the Dockerfile pins uv {self.uv_version}, the tests run uv {here}"
        scratch.mkdir(parents=True, exist_ok=True)
        env = {key: value for key, value in os.environ.items() if not key.startswith(("VIRTUAL_ENV", "UV_"))}
        env.update(self.builder_env, UV_PYTHON=sys.executable, PATH=f"{Path(UV).parent}{os.pathsep}{env['PATH']}")
        for command in self.uv_commands:
            # /tmp/ first: the mapped paths may themselves live under /tmp.
            mapped = command.replace("/tmp/", f"{scratch}/").replace(VENV, str(venv)).replace(" --no-cache", "")
            result = subprocess.run(
                ["bash", "-eo", "pipefail", "-c", mapped],
                cwd=context,
                env=env,
                capture_output=True,
                text=True,
                timeout=1200,
                check=False,
            )
            assert result.returncode == 0, f"RUN {command}\n{result.stdout[-3000:]}{result.stderr[-3000:]}"


def build_context(project: Path, destination: Path) -> Path:
    """The files `docker build` would send: the .dockerignore is an allowlist (`*`, then `!path` lines), and
    caches of Python bytecode stay out."""
    lines = [line.strip() for line in (project / ".dockerignore").read_text(encoding="utf-8").splitlines()]
    patterns = [line for line in lines if line and not line.startswith("#")]
    assert patterns[0] == "*", "the .dockerignore must start by excluding everything"
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", "*.pyd")
    for pattern in patterns[1:]:
        if not pattern.startswith("!"):
            assert pattern in {"**/__pycache__", "**/*.py[cod]"}, f"unexpected .dockerignore line {pattern}"
            continue
        source = project / pattern[1:].strip("/")
        if source.is_dir():
            shutil.copytree(source, destination / pattern[1:].strip("/"), ignore=skip, dirs_exist_ok=True)
        elif source.is_file():
            (destination / pattern[1:]).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / pattern[1:])
    destination.mkdir(parents=True, exist_ok=True)
    return destination


def host_has(package: str) -> bool:
    """Whether dpkg has `package` installed here."""
    query = ["dpkg-query", "--show", "--showformat=${Status}", package]
    result = subprocess.run(query, capture_output=True, text=True, check=False)
    return result.stdout.strip() == "install ok installed"


def copy_into(source: Path, target: Path, *, many: bool) -> None:
    assert source.exists(), f"COPY source {source} is missing from the build context"
    if source.is_dir():
        shutil.copytree(source, target, dirs_exist_ok=True)
    else:
        destination = target / source.name if many else target
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)


@dataclass
class Container:
    root: Path
    venv: Path
    image: Image

    def path(self, image_path: str) -> Path:
        """Where an absolute path of the image lives in the stand-in."""
        if image_path == VENV or image_path.startswith(f"{VENV}/"):
            return self.venv / image_path.removeprefix(VENV).lstrip("/")
        return self.root / image_path.lstrip("/")

    def map_value(self, value: str) -> str:
        return IMAGE_ROOTS.sub(lambda match: str(self.path(match.group(0))), value)

    def replay(self, command: str) -> None:
        """The runtime stage's RUN lines: user creation needs nothing here; `install -d` makes directories; a Debian
        package the image installs must be installed on this machine (the stand-in runs on the host's libraries)."""
        for step in (part.strip() for part in command.split("&&")):
            words = shlex.split(step)
            if words[0] == "useradd" or words in (["apt-get", "update"], ["rm", "-rf", "/var/lib/apt/lists/*"]):
                continue
            if words[:2] == ["apt-get", "install"]:
                for package in (word.split("=")[0] for word in words[2:] if not word.startswith("-")):
                    assert host_has(package), f"RUN installs {package}, which this machine lacks: no stand-in for it"
                continue
            assert words[:2] == ["install", "-d"], f"no stand-in for RUN {step}"
            self.path(words[-1]).mkdir(parents=True, exist_ok=True)

    @property
    def cwd(self) -> Path:
        return self.path(self.image.workdir)

    def environment(self, base: Mapping[str, str], **overrides: str) -> dict[str, str]:
        """The image's ENV with its paths mapped, over what the python base image sets (not the test's env)."""
        env = {"PATH": BASE_IMAGE_PATH, **{key: base[key] for key in ("HOME", "LANG", "TMPDIR") if key in base}}
        for key, value in self.image.env.items():
            env[key] = self.map_value(value.replace("$PATH", BASE_IMAGE_PATH))
        env.update(overrides)
        return env

    def argv(self, command: list[str]) -> list[str]:
        return [self.map_value(part) for part in command]

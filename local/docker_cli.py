"""The docker CLI, called with argument lists; a failure raises with docker's own words."""

import json
import subprocess


def docker(*args: str, env: dict | None = None, input: str | None = None, timeout=1800) -> str:
    """Run `docker ARGS`, return its output; on failure, raise with what docker said."""
    done = subprocess.run(
        ["docker", *args], capture_output=True, text=True, env=env, input=input, timeout=timeout
    )
    if done.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


def engine_problem() -> str | None:
    """Why no Docker engine answers here, or None when one does."""
    try:
        done = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        return "the docker command is not installed"
    except subprocess.TimeoutExpired:
        return "`docker info` did not answer within 30 s"
    return None if done.returncode == 0 else f"`docker info` failed: {done.stderr.strip()}"


def inspect_image(name: str) -> dict:
    return json.loads(docker("image", "inspect", name))[0]

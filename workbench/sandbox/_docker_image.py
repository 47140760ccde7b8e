"""The Docker sandbox image, built by the project from Debian packages (no registry needed).

``debootstrap --variant=minbase`` makes a root filesystem with the system Python; it
is trimmed to what the sandbox may see (``/usr``, the ``/bin``-style links, a
generated ``/etc`` of ``passwd``, ``group`` and ``ld.so.cache``, empty mount points)
and brought in with ``docker import`` under a content tag: a hash of the recipe, so
a changed recipe is a new image. Both the tarball and the image are cached; a
fresh engine data root re-imports the tarball in seconds instead of re-running
debootstrap. A lock file serialises builds across processes.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from workbench.errors import SandboxUnavailable

__all__ = [
    "IMAGE_REPOSITORY",
    "IO_MOUNT",
    "apt_install",
    "build_rootfs_tarball",
    "debian_mirror",
    "ensure_image",
    "image_tag",
]

IMAGE_REPOSITORY = "workbench-sandbox"
"""Repository name of the image; the tag is a hash of :data:`_RECIPE`."""
IO_MOUNT = "/usr/lib/workbench-io"
"""Empty directory of the image where the host mounts a call's pipes (then unlinks them)."""
_SUITE = "bookworm"
# python3-minimal alone lacks json and _ctypes, which the runner needs (values, and
# prctl(PR_SET_DUMPABLE, 0) that keeps the code out of the runner's /proc files).
_PACKAGES = ("python3-minimal", "libpython3.11-stdlib")
_PASSWD = "nobody:x:65534:65534:nobody:/tmp:/usr/sbin/nologin\n"
_GROUP = "nogroup:x:65534:\n"
_RECIPE: dict[str, Any] = {
    "tool": "debootstrap",
    "variant": "minbase",
    "suite": _SUITE,
    "packages": list(_PACKAGES),
    "keep": ["usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"],
    "etc": {"passwd": _PASSWD, "group": _GROUP, "copied": ["ld.so.cache"]},
    "empty": ["proc", "dev", "sys", "tmp", "work", IO_MOUNT.lstrip("/")],
    "dropped": ["usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale"],
    "version": 1,
}
_DEFAULT_MIRROR = "http://deb.debian.org/debian"
_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")


def image_tag() -> str:
    """``workbench-sandbox:<12 hex digits of the recipe's hash>``."""
    digest = hashlib.sha256(json.dumps(_RECIPE, sort_keys=True).encode()).hexdigest()
    return f"{IMAGE_REPOSITORY}:{digest[:12]}"


def debian_mirror(sources: Path = _SOURCES) -> str:
    """The first ``URIs:`` of the Debian stanza in ``debian.sources`` (deb.debian.org if none)."""
    with contextlib.suppress(OSError):
        for line in sources.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "URIs" and "security" not in value:
                return value.split()[0]
    return _DEFAULT_MIRROR


def apt_install(packages: Sequence[str], *, error: type[Exception] = SandboxUnavailable) -> None:
    """Install Debian packages with apt-get (root only), refreshing the lists once on failure.

    Raises:
        error: Not root, or apt-get failed (the message ends with its output).
    """
    if os.geteuid() != 0:
        raise error(
            f"{', '.join(packages)} missing and only root may install it: "
            f"`sudo apt-get install {' '.join(packages)}`"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages]
    done = subprocess.run(install, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, check=False)
        done = subprocess.run(install, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip()[-2000:]
        raise error(f"`{' '.join(install)}` failed (exit {done.returncode}): {tail}")


def _debootstrap() -> str:
    found = shutil.which("debootstrap") or shutil.which("debootstrap", path="/usr/sbin:/sbin")
    if found is None:
        apt_install(["debootstrap"])
        found = shutil.which("debootstrap", path="/usr/sbin:/sbin:/usr/bin")
    if found is None:
        raise SandboxUnavailable("debootstrap is not installed: `apt-get install debootstrap`")
    return found


def build_rootfs_tarball(target: Path, *, mirror: str | None = None) -> Path:
    """Run debootstrap and write the trimmed root filesystem to ``target`` (a tar file).

    Needs root and the Debian mirror (about 30 s and 60 MB of downloads).

    Raises:
        SandboxUnavailable: debootstrap is missing and cannot be installed, or failed.
    """
    tool = _debootstrap()
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="rootfs-", dir=target.parent))
    try:
        rootfs, stage = work / "rootfs", work / "stage"
        argv = [
            tool,
            f"--variant={_RECIPE['variant']}",
            f"--include={','.join(_PACKAGES)}",
            _SUITE,
            str(rootfs),
            mirror or debian_mirror(),
        ]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            tail = (done.stdout + done.stderr).strip()[-2000:]
            raise SandboxUnavailable(f"debootstrap failed (exit {done.returncode}): {tail}")
        _stage(rootfs, stage)
        partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
        tar = ["tar", "-C", str(stage), "--numeric-owner", "-cf", str(partial), "."]
        done = subprocess.run(tar, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SandboxUnavailable(f"tar of the sandbox root failed: {done.stderr[-2000:]}")
        partial.replace(target)
        return target
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _stage(rootfs: Path, stage: Path) -> None:
    """Move what the sandbox may see from ``rootfs`` into ``stage``."""
    stage.mkdir(mode=0o755)
    for name in _RECIPE["keep"]:
        source = rootfs / name
        if source.is_symlink():
            (stage / name).symlink_to(os.readlink(source))
        elif source.is_dir():
            source.rename(stage / name)
    for dropped in _RECIPE["dropped"]:
        shutil.rmtree(stage / dropped, ignore_errors=True)
    etc = stage / "etc"
    etc.mkdir(mode=0o755)
    for name, text in (("passwd", _PASSWD), ("group", _GROUP)):
        (etc / name).write_text(text)
        (etc / name).chmod(0o644)
    for name in _RECIPE["etc"]["copied"]:
        shutil.copy2(rootfs / "etc" / name, etc / name)
    for name in _RECIPE["empty"]:
        (stage / name).mkdir(mode=0o755, parents=True, exist_ok=True)
    (stage / "tmp").chmod(0o1777)


@contextlib.contextmanager
def _locked(path: Path, timeout_s: float) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise SandboxUnavailable(f"timed out waiting for {path}") from None
                time.sleep(0.2)
        yield
    finally:
        os.close(fd)


def ensure_image(client: Any, *, cache_dir: Path, timeout_s: float = 900.0) -> str:
    """The sandbox image's tag, importing (and first building) it when the engine lacks it.

    Args:
        client: A ``docker.DockerClient`` of the engine.
        cache_dir: Where the rootfs tarball is kept (``<home>/cache/docker`` by the
            service); a lock file there serialises builds across processes.
        timeout_s: Longest wait for another process's build.

    Raises:
        SandboxUnavailable: The build or the import failed.
    """
    import docker.errors

    tag = image_tag()
    with _locked(cache_dir / "sandbox-image.lock", timeout_s):
        try:
            client.images.get(tag)
            return tag
        except docker.errors.ImageNotFound:
            pass
        tarball = cache_dir / f"sandbox-rootfs-{tag.partition(':')[2]}.tar"
        if not tarball.exists():
            build_rootfs_tarball(tarball)
        repository, _, version = tag.partition(":")
        try:
            client.api.import_image_from_file(str(tarball), repository=repository, tag=version)
            client.images.get(tag)
        except docker.errors.DockerException as exc:
            raise SandboxUnavailable(f"docker import of {tarball} failed: {exc}") from exc
        return tag

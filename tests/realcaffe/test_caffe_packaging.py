"""One package list for both routes; the shipped symlinks; the runner stays Python 3.9 + numpy + caffe."""
from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from purecaffe.realcaffe import Backend, RootfsBackend, rootfs
from purecaffe.realcaffe.assets import (
    DATA_DIR,
    DEBIAN_SUITE,
    caffe_packages,
    data_file,
    parse_package_list,
    runner_path,
)
from purecaffe.realcaffe.rootfs import debootstrap_command

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"


def test_package_list_names_debian_caffe_and_numpy() -> None:
    packages = caffe_packages()
    assert packages == parse_package_list((DOCKER / "packages.txt").read_text())
    assert "python3-caffe" in packages and "python3-numpy" in packages
    assert len(set(packages)) == len(packages)


def test_parse_package_list_skips_comments_and_blanks() -> None:
    assert parse_package_list("# head\n\npython3-caffe  # the judge\n  python3-numpy\n") == (
        "python3-caffe", "python3-numpy")


def test_data_files_are_relative_symlinks_into_docker() -> None:
    for name, target in (("caffe-packages.txt", "packages.txt"), ("caffe_runner.py", "caffe_runner.py"),
                         ("Dockerfile", "Dockerfile")):
        link = DATA_DIR / name
        assert link.is_symlink(), name
        assert os.readlink(link) == f"../../docker/{target}"
        assert data_file(name) == (DOCKER / target).resolve()


def test_dockerfile_installs_exactly_the_list_the_rootfs_installs() -> None:
    text = (DOCKER / "Dockerfile").read_text()
    instructions = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert instructions[0] == f"FROM debian:{DEBIAN_SUITE}-slim"
    assert "COPY packages.txt /opt/purecaffe/packages.txt" in text
    install = re.search(r"sed -e 's/#\.\*//' /opt/purecaffe/packages\.txt \| xargs apt-get install -y "
                        r"--no-install-recommends", text)
    assert install, "the image must install the package list file itself, nothing hard-coded"
    assert "COPY caffe_runner.py /opt/purecaffe/caffe_runner.py" in text
    assert 'ENTRYPOINT ["python3", "/opt/purecaffe/caffe_runner.py"]' in text
    assert 'CMD ["/bundle"]' in text
    # no package name appears in the Dockerfile outside the list (so the routes cannot drift)
    for package in caffe_packages():
        assert not any(package in line for line in instructions), package
    command = debootstrap_command("/usr/sbin/debootstrap", Path("/x"), caffe_packages(), "http://m/debian")
    assert command == ["/usr/sbin/debootstrap", "--variant=minbase", f"--include={','.join(caffe_packages())}",
                       DEBIAN_SUITE, "/x", "http://m/debian"]


def test_runner_is_python39_with_only_stdlib_numpy_caffe() -> None:
    source = runner_path().read_text()
    tree = ast.parse(source, feature_version=(3, 9))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    third_party = {name for name in imported if name not in sys.stdlib_module_names}
    assert third_party <= {"numpy", "caffe"}, third_party


def test_pyproject_ships_the_runner_and_docker_files() -> None:
    text = (REPO / "pyproject.toml").read_text()
    for pattern in ('"data/*.txt"', '"data/*.py"', '"data/Dockerfile"'):
        assert pattern in text, pattern


@pytest.mark.real_caffe
def test_the_backend_system_has_every_listed_package(real_caffe_backend: Backend) -> None:
    query = ["dpkg-query", "-W", "-f", "${Package} ${Status}\\n", *caffe_packages()]
    if isinstance(real_caffe_backend, RootfsBackend):
        assert rootfs.read_stamp(real_caffe_backend.root)["packages"] == list(caffe_packages())
        command = [rootfs.find_tool("chroot"), str(real_caffe_backend.root), *query]
    else:
        command = ["docker", "run", "--rm", "--entrypoint", "dpkg-query", real_caffe_backend.image, *query[1:]]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    installed = dict(line.split(" ", 1) for line in done.stdout.splitlines())
    assert installed == {package: "install ok installed" for package in caffe_packages()}

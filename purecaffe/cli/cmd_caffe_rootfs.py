"""`purecaffe caffe-rootfs [--dir DIR] [--rebuild]`: build the Debian rootfs real Caffe runs in (root)."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from purecaffe.realcaffe import build_rootfs, default_rootfs_dir, rootfs_ready
from purecaffe.realcaffe.rootfs import DEFAULT_MIRROR, check_can_build, read_stamp


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "caffe-rootfs", help="build the Debian bullseye rootfs with real Caffe (needs root and debootstrap)",
        description="Build (once, cached) a Debian bullseye tree with python3-caffe using debootstrap, for "
                    "`verify-caffe --caffe-backend rootfs`. Needs root; without root use Docker "
                    "(docker build -t caffe-verify docker/). Prints the directory.")
    parser.add_argument("--dir", metavar="DIR", help=f"where (default: {default_rootfs_dir()})")
    parser.add_argument("--rebuild", action="store_true", help="build again even if a finished tree exists")
    parser.add_argument("--mirror", metavar="URL", help=f"Debian mirror (default: {DEFAULT_MIRROR})")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    root = default_rootfs_dir() if args.dir is None else Path(args.dir)
    if not args.rebuild and rootfs_ready(root):
        print(root)
        return 0
    check_can_build()
    print(f"building the Debian rootfs in {root} (debootstrap, a few minutes) ...", file=sys.stderr)
    started = time.monotonic()
    built = build_rootfs(root, rebuild=args.rebuild, mirror=args.mirror)
    stamp = read_stamp(built) or {}
    print(f"done in {time.monotonic() - started:.0f} s ({', '.join(stamp.get('packages', []))})", file=sys.stderr)
    print(built)
    return 0

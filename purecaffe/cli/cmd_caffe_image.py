"""`purecaffe caffe-image [--image NAME] [--rebuild] [--no-pull]`: build the caffe-verify image (docker or podman)."""
from __future__ import annotations

import argparse
import sys
import time

from purecaffe.realcaffe.docker import default_image
from purecaffe.realcaffe.engine import ENGINE_ENV, find_engine
from purecaffe.realcaffe.image import build_image, ensure_image, image_ready


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "caffe-image", help="build the caffe-verify image from docker/Dockerfile (docker or podman)",
        description="Build the container image real Caffe runs in, from the shipped Dockerfile and package "
                    "list, with the first container engine that answers (docker, podman; "
                    f"${ENGINE_ENV} picks one). When its base image cannot be pulled (no registry), it is "
                    "made from a debootstrap minbase of the same Debian release (needs root). Prints the "
                    "engine and the image.")
    parser.add_argument("--image", metavar="NAME", help=f"image name (default: {default_image()})")
    parser.add_argument("--rebuild", action="store_true", help="build even if the image exists")
    parser.add_argument("--no-pull", action="store_true",
                        help="do not try the registry for the base image; make it with debootstrap")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    engine = find_engine()
    image = args.image or default_image()
    print(f"container engine: {engine.describe()}", file=sys.stderr)
    if args.rebuild or not image_ready(engine, image):
        print(f"building {image} (a few minutes) ...", file=sys.stderr)
        started = time.monotonic()
        if args.rebuild:
            build_image(engine, image, pull=not args.no_pull)
        else:  # under the build lock: another process may have built it meanwhile
            ensure_image(engine, image, pull=not args.no_pull)
        print(f"done in {time.monotonic() - started:.0f} s", file=sys.stderr)
    print(f"{engine.name} {image}")
    return 0

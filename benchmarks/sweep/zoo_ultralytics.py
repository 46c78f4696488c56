"""Ultralytics YOLO from its packaged YAMLs (no weights; YOLO_OFFLINE=1), in the form NPU users deploy.

Deploy form: backbone + neck + the head's raw per-level convolutions (box `cv2.i`, class `cv3.i`, and
masks/keypoints/angles `cv4.i`, the mask prototypes `proto`; YOLOv10's `one2one_cv*`); the DFL softmax,
anchors and decoding run on the CPU (rknn_model_zoo and the NNIE/OpenCV ports do the same).
The classifier (yolov8n-cls) is converted whole.
"""
from __future__ import annotations

from functools import partial

from torch import nn

from sweep.arch import Arch

SIZE = (1, 3, 320, 320)
CUT = "YOLO raw head convolutions per level (decoding, DFL and NMS on the CPU, as NPU deployments do)"


def _yolo(yaml: str, task: str) -> nn.Module:
    from ultralytics.nn import tasks

    model_class = {"detect": tasks.DetectionModel, "segment": tasks.SegmentationModel, "pose": tasks.PoseModel,
                   "obb": tasks.OBBModel, "classify": tasks.ClassificationModel}[task]
    return model_class(yaml, verbose=False)


def _heads(index: int, branches: tuple[str, ...], extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    return tuple(f"model.{index}.{branch}.{level}" for level in range(3) for branch in branches) + \
        tuple(f"model.{index}.{name}" for name in extra)


def _detector(name: str, yaml: str, task: str, index: int, branches: tuple[str, ...],
              extra: tuple[str, ...] = ()) -> Arch:
    kind = {"detect": "detector", "obb": "detector", "segment": "segmentation", "pose": "pose"}[task]
    return Arch(f"ultralytics_{name}", "ultralytics", kind, partial(_yolo, yaml, task), shapes=(SIZE,),
                outputs=_heads(index, branches, extra), cut=CUT)


ARCHS = [
    _detector("yolov8n", "yolov8n.yaml", "detect", 22, ("cv2", "cv3")),
    _detector("yolo11n", "yolo11n.yaml", "detect", 23, ("cv2", "cv3")),
    _detector("yolov5nu", "yolov5nu.yaml", "detect", 24, ("cv2", "cv3")),
    _detector("yolov10n", "yolov10n.yaml", "detect", 23, ("one2one_cv2", "one2one_cv3")),
    _detector("yolo12n", "yolo12n.yaml", "detect", 21, ("cv2", "cv3")),
    _detector("yolov8n_seg", "yolov8n-seg.yaml", "segment", 22, ("cv2", "cv3", "cv4"), ("proto",)),
    _detector("yolov8n_pose", "yolov8n-pose.yaml", "pose", 22, ("cv2", "cv3", "cv4")),
    Arch("ultralytics_yolov8n_cls", "ultralytics", "classifier", partial(_yolo, "yolov8n-cls.yaml", "classify")),
]

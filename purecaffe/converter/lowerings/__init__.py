"""Lowerings, one module per op family; the file list is the coverage map.

Every public module here is collected by `registry.default_registry()`; see
`purecaffe.converter.registry` (how to write one) and
`purecaffe.converter.context` (what a lowering can ask and do).
`activations.lower_relu` is the worked example.
"""

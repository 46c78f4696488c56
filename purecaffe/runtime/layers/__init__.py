"""One module per Caffe layer family; each holds, per layer type, a forward function and a
shape function taking the same keyword arguments (see `base.py`).  The type -> function
table is `purecaffe.runtime.registry`; nothing registers itself on import.

    conv.py         Convolution, Deconvolution (DepthwiseConvolution = grouped Convolution)
    pool.py         Pooling, SPP
    activation.py   ReLU, PReLU, ELU, Sigmoid, Swish, TanH, AbsVal, BNLL, Exp, Log, Power,
                    Threshold, Clip, Dropout
    elementwise.py  Eltwise, Scale, Bias
    norm.py         BatchNorm, LRN, MVN, BN (PSPNet fork), Normalize (SSD fork)
    linear.py       InnerProduct, Embed
    recurrent.py    LSTM, RNN
    reduce.py       Softmax, ArgMax, Reduction
    shape_ops.py    Concat, Slice, Split, Silence, Flatten, Reshape, Crop, Tile, Permute, Parameter
    resize.py       Upsample (YOLOv3/SegNet forks), Interp (PSPNet fork)
    detection.py    PriorBox, DetectionOutput (SSD fork)
    data.py         shapes of DummyData, loss and Accuracy layers
"""

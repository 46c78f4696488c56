"""Reading and writing Caffe's files: prototxt, caffemodel (V1/V2), binaryproto."""

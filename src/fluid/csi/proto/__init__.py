"""Generated CSI v1 stubs (csi_pb2, csi_pb2_grpc) from proto/csi.proto.

Nothing here is written by hand except this file: setup.py generates the modules at
build/install time and hack/gen-proto.sh in a development tree. Imported only by the
fluid.csi servicers and tests.
"""

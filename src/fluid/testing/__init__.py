"""Development and test tooling: a real local control plane (like controller-runtime's envtest).

Never imported by the controller-manager or the CSI plugin; used by the test suite, the
benchmarks and ``hack/local-up``.
"""

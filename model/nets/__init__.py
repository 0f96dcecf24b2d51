"""Networks: EHR encoders, pluggable CXR encoders, the context gate and the fusion heads."""

from model.nets.fusion import ARCHS, FusionNet, NetConfig, NetOutput

__all__ = ["ARCHS", "FusionNet", "NetConfig", "NetOutput"]

"""The network's Shapley coalitions traced for serving (``FusionNet.prepare_serving``).

``FusionNet._coalition_core`` is ~40 small tensor operations per prediction. Run eagerly, each
takes and releases the interpreter lock, so two threads predicting at once hand the lock to each
other at every one. Traced and frozen with TorchScript it is one call that holds the lock only to
start. TorchScript is deprecated in favour of ``torch.compile`` / ``torch.export``, which have no
lock-free runtime without a C++ compiler at serving time; when tracing is not possible (a later
torch, an operation it cannot record) or its result differs from the eager core's, the eager core
serves and a warning says why.
"""

from __future__ import annotations

import logging
import warnings
from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.jit._trace import TracerWarning

if TYPE_CHECKING:
    from model.nets.fusion import FusionNet

log = logging.getLogger(__name__)

#: Coalition counts (besides the patient) of the inputs the trace is checked on: none, and sizes
#: it was not traced at (the core's row counts follow the distinct codes).
CHECKED_SIZES = (0, 9, 33)


class CoalitionCore(nn.Module):
    """``FusionNet._coalition_core`` as a module, for tracing."""

    def __init__(self, net: FusionNet) -> None:
        super().__init__()
        self.net = net

    def forward(
        self, pair: torch.Tensor, codes: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.net._coalition_core(pair, codes)


def trace_coalition_core(net: FusionNet) -> torch.jit.ScriptModule | None:
    """``net``'s coalition core traced and frozen (the weights as they are now), checked against
    the eager core on inputs of other sizes; None, logged, on any failure or difference."""
    net.eval()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit.trace, see above
            warnings.simplefilter("ignore", TracerWarning)  # the model's constants: intended
            core = CoalitionCore(net).eval()
            traced: torch.jit.ScriptModule = torch.jit.freeze(
                torch.jit.trace(  # type: ignore[no-untyped-call]
                    core, example_inputs(net, 5, seed=0), check_trace=False
                )
            )
            for seed, coalitions in enumerate(CHECKED_SIZES, start=1):
                inputs = example_inputs(net, coalitions, seed)
                for got, want in zip(traced(*inputs), core(*inputs), strict=True):
                    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    except Exception as exc:  # any failure keeps the eager core
        log.warning("coalition core not traced, eager kept: %s", str(exc)[:300])
        return None
    return traced


def example_inputs(net: FusionNet, coalitions: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs of the coalition core: a random patient and reference ``(2, L, F)`` (values,
    observed masks, times since last in and beyond the window) and ``coalitions`` random codes
    plus the patient's."""
    g = torch.Generator().manual_seed(seed)
    n_vars, steps = len(net.cfg.variables), net.cfg.lookback_h
    pair = torch.randn(2, steps, net.cfg.n_inputs, generator=g)
    pair[1, :, n_vars:] = pair[0, :, n_vars:]  # the reference shares the charting
    observed = torch.rand(steps, n_vars, generator=g) < 0.6
    pair[:, :, n_vars : 2 * n_vars] = observed.float()
    pair[:, :, 2 * n_vars : 3 * n_vars] = 1.2 * torch.rand(steps, n_vars, generator=g)
    every = (1 << n_vars) - 1
    codes = torch.randint(0, every + 1, (coalitions,), generator=g)
    return pair, torch.cat([codes, torch.tensor([every])])

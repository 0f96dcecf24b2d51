"""The applicability guard: does a film or an EHR window resemble what the model was trained on?

- ``film``: film feature groups (encoder embedding, layout, intensity) as Gaussians of the
  training films; a film scoring beyond the threshold calibrated on validation films is not used.
- ``ehr``: per-variable training ranges and the charting coverage of training windows; a window
  beyond them is scored and flagged.
- ``stats``: both, as stored in a checkpoint; ``fit``: fitting them after training or attaching
  them to an older checkpoint; ``wording``: the one place that turns the typed reasons and flags
  into the words of the card and the risk page.
"""
